/* Unit tests: the --jail option family. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "jail/jail.h"

enum { JAIL, UID, GID, SECCOMP, CPU, MEM, IOBPS, IOIOPS, CGVER };

static struct jail_opts j;
static char err[256];

static int set(int opt, const char *arg)
{
	err[0] = 0;
	return jail_opts_set(&j, JAIL_OPT_BASE + opt, arg, err, sizeof(err));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(jail_opt_names[JAIL], "jail");
	assert_string_equal(jail_opt_names[IOIOPS], "io-iops");
	assert_string_equal(jail_opt_names[CGVER], "cgroup-version");
	assert_null(jail_opt_names[CGVER + 1]);
}

static void test_good(void **state)
{
	(void)state;
	memset(&j, 0, sizeof(j));
	assert_int_equal(set(JAIL, NULL), 0);
	assert_true(j.on);
	assert_null(j.dir);
	assert_int_equal(set(JAIL, "/srv/jail"), 0);
	assert_string_equal(j.dir, "/srv/jail");
	assert_int_equal(set(UID, "1000"), 0);
	assert_int_equal(j.uid, 1000);
	assert_int_equal(set(GID, "65534"), 0);
	assert_int_equal(j.gid, 65534);
	assert_int_equal(set(SECCOMP, "off"), 0);
	assert_int_equal(j.seccomp, JAIL_SECCOMP_OFF);
	assert_int_equal(set(SECCOMP, "log"), 0);
	assert_int_equal(j.seccomp, JAIL_SECCOMP_LOG);
	assert_int_equal(set(SECCOMP, "on"), 0);
	assert_int_equal(j.seccomp, JAIL_SECCOMP_ON);
	assert_int_equal(set(CPU, "150"), 0);
	assert_int_equal(j.cpu_quota, 150);
	assert_int_equal(set(MEM, "512M"), 0);
	assert_int_equal(j.mem_limit, 512ULL << 20);
	assert_int_equal(set(IOBPS, "1048576"), 0);
	assert_int_equal(j.io_bps, 1048576);
	assert_int_equal(set(IOIOPS, "100"), 0);
	assert_int_equal(j.io_iops, 100);
	assert_int_equal(set(CGVER, "1"), 0);
	assert_int_equal(j.cgroup_version, 1);
	assert_int_equal(set(CGVER, "2"), 0);
	assert_int_equal(j.cgroup_version, 2);
}

static void test_bad(void **state)
{
	(void)state;
	memset(&j, 0, sizeof(j));
	assert_int_equal(set(JAIL, "relative"), -EINVAL);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(set(UID, "0"), -EINVAL);
	assert_non_null(strstr(err, "non-root"));
	assert_int_equal(set(UID, "root"), -EINVAL);
	assert_int_equal(set(GID, "-1"), -EINVAL);
	assert_int_equal(set(SECCOMP, "yes"), -EINVAL);
	assert_non_null(strstr(err, "on, off or log"));
	assert_int_equal(set(CPU, "0"), -EINVAL);
	assert_int_equal(set(CPU, "50%"), -EINVAL);
	assert_int_equal(set(MEM, "1k"), -EINVAL);
	assert_int_equal(set(MEM, "lots"), -EINVAL);
	assert_int_equal(set(IOBPS, "0"), -EINVAL);
	assert_int_equal(set(IOIOPS, "x"), -EINVAL);
	assert_int_equal(set(CGVER, "3"), -EINVAL);
	assert_non_null(strstr(err, "1 or 2"));
	assert_int_equal(set(CGVER, "12"), -EINVAL);
	assert_int_equal(jail_opts_set(&j, JAIL_OPT_BASE + 99, "x", err, sizeof(err)), -EINVAL);
	/* nothing half-set */
	assert_false(j.on);
	assert_int_equal(j.uid, 0);
	assert_int_equal(j.cpu_quota, 0);
	assert_int_equal(j.mem_limit, 0);
	assert_int_equal(j.cgroup_version, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
