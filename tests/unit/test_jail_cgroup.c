/* Unit tests: finding the jail's parent cgroup from mountinfo and
 * /proc/PID/cgroup (v2, v1, co-mounted v1 controllers, subtree mounts). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "jail/cgroup.h"

static char mi[64], pc[64], dir[4096];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(mi, sizeof(mi), "/tmp/test_jail_cg_mi.%d", (int)getpid());
	snprintf(pc, sizeof(pc), "/tmp/test_jail_cg_pc.%d", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(mi);
	unlink(pc);
	return 0;
}

static const char hybrid_mi[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_pc[] =
	"9:name=systemd:/user.slice\n"
	"4:memory:/process_api/abc\n"
	"2:cpu,cpuacct:/\n"
	"0::/user.slice/session-1.scope\n";

static void test_hybrid(void **state)
{
	(void)state;
	put(mi, hybrid_mi);
	put(pc, hybrid_pc);
	assert_int_equal(jail_cg_locate(mi, pc, NULL, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified/user.slice/session-1.scope");
	assert_int_equal(jail_cg_locate(mi, pc, "cpu", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_cg_locate(mi, pc, "cpuacct", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(jail_cg_locate(mi, pc, "memory", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api/abc");
	/* "cpu" is not "cpuset", "name=systemd" is no controller "systemd". */
	assert_int_equal(jail_cg_locate(mi, pc, "cpuset", dir, sizeof(dir)), -ENOENT);
	assert_int_equal(jail_cg_locate(mi, pc, "systemd", dir, sizeof(dir)), -ENOENT);
	assert_int_equal(jail_cg_locate(mi, pc, "blkio", dir, sizeof(dir)), -ENOENT);
	/* Too small a buffer is an error, not a truncated path. */
	assert_int_equal(jail_cg_locate(mi, pc, "memory", dir, 20), -ENAMETOOLONG);
}

static void test_unified(void **state)
{
	(void)state;
	/* A container's cgroup2 mount of its own subtree, with a space escaped. */
	put(mi, "25 20 0:26 /ct /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"
		"26 20 0:27 / /mnt/my\\040dir rw - ext4 /dev/vda rw\n");
	put(pc, "0::/ct/vm\n");
	assert_int_equal(jail_cg_locate(mi, pc, NULL, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/vm");
	assert_int_equal(jail_cg_locate(mi, pc, "cpu", dir, sizeof(dir)), -ENOENT);
	put(pc, "0::/\n");
	put(mi, "25 20 0:26 / /sys/fs/cg\\040two rw - cgroup2 cgroup2 rw\n");
	assert_int_equal(jail_cg_locate(mi, pc, NULL, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cg two");
}

static void test_missing(void **state)
{
	(void)state;
	put(mi, hybrid_mi);
	put(pc, "4:memory:/x\n");
	/* A mount without the process's line in /proc/PID/cgroup. */
	assert_int_equal(jail_cg_locate(mi, pc, NULL, dir, sizeof(dir)), -ENOENT);
	assert_int_equal(jail_cg_locate(mi, pc, "cpu", dir, sizeof(dir)), -ENOENT);
	put(pc, "garbage\n::\n");
	assert_int_equal(jail_cg_locate(mi, pc, "memory", dir, sizeof(dir)), -ENOENT);
	assert_int_equal(jail_cg_locate("/nonexistent/mountinfo", pc, NULL, dir, sizeof(dir)),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_unified),
		cmocka_unit_test(test_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
