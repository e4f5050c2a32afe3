/* Unit tests: the --disk option parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "block/block.h"
#include "block/disk_opts.h"

static struct disk_opts o;
static char err[256];

static int parse(const char *s)
{
	err[0] = 0;
	return disk_opts_parse(s, &o, err, sizeof(err));
}

static void test_good(void **state)
{
	(void)state;
	assert_int_equal(parse("disk.img"), 0);
	assert_string_equal(o.path, "disk.img");
	assert_false(o.readonly);
	assert_string_equal(o.serial, "");

	assert_int_equal(parse("/tmp/a.img,readonly=on,serial=vmon0"), 0);
	assert_string_equal(o.path, "/tmp/a.img");
	assert_true(o.readonly);
	assert_string_equal(o.serial, "vmon0");

	assert_int_equal(parse("a,serial=12345678901234567890,readonly=off"), 0);
	assert_false(o.readonly);
	assert_string_equal(o.serial, "12345678901234567890");

	assert_int_equal(parse("we,,ird,,,readonly=on"), 0); /* ",," is a comma */
	assert_string_equal(o.path, "we,ird,");
	assert_true(o.readonly);

	assert_int_equal(parse("a,serial=has space=x"), 0);
	assert_string_equal(o.serial, "has space=x");

	assert_int_equal(o.format, BLOCK_FMT_AUTO);
	assert_int_equal(parse("a.qcow2,format=qcow2"), 0);
	assert_int_equal(o.format, BLOCK_FMT_QCOW2);
	assert_int_equal(parse("a.img,readonly=on,format=raw"), 0);
	assert_int_equal(o.format, BLOCK_FMT_RAW);
	assert_int_equal(parse("a,bps=2097152,iops=100,burst=1048576"), 0);
	assert_int_equal(o.bps, 2097152);
	assert_int_equal(o.iops, 100);
	assert_int_equal(o.burst, 1048576);
	assert_int_equal(parse("a"), 0);
	assert_int_equal(o.bps, 0);
	assert_int_equal(o.iops, 0);
}

static void test_bad(void **state)
{
	static const struct { const char *spec, *msg; } cases[] = {
		{ "", "the path is empty" },
		{ ",readonly=on", "the path is empty" },
		{ "a,", "empty option (a comma in the path is written ,,)" },
		{ "a,,", NULL }, /* a path "a," : fine */
		{ "a,readonly=on,", "empty option (a comma in the path is written ,,)" },
		{ "a,ro=on", "unknown key 'ro' (expected readonly, serial, format, bps, iops or burst)" },
		{ "a,readonly", "'readonly' needs a value (key=value)" },
		{ "a,readonly=yes", "readonly=yes: expected on or off" },
		{ "a,readonly=", "readonly=: expected on or off" },
		{ "a,readonly=on,readonly=off", "readonly is given twice" },
		{ "a,serial=", "serial is empty" },
		{ "a,serial=123456789012345678901", "serial is longer than 20 characters" },
		{ "a,serial=x\ty", "serial has a character that is not printable ASCII" },
		{ "a,serial=\xc3\xa9", "serial has a character that is not printable ASCII" },
		{ "a,serial=x,serial=y", "serial is given twice" },
		{ "a,=x", "unknown key '' (expected readonly, serial, format, bps, iops or burst)" },
		{ "a,format=vmdk", "format=vmdk: expected raw or qcow2" },
		{ "a,format=raw,format=raw", "format is given twice" },
		{ "a,bps=0", "bps=0: expected a positive number" },
		{ "a,bps=", "bps=: expected a positive number" },
		{ "a,iops=-1", "iops=-1: expected a positive number" },
		{ "a,iops=lots", "iops=lots: expected a positive number" },
		{ "a,bps=1,bps=2", "bps is given twice" },
		{ "a,burst=99999999999999999999999", "burst=99999999999999999999999: expected a positive number" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].spec);
		if (!cases[i].msg) {
			assert_int_equal(r, 0);
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_string_equal(err, cases[i].msg);
	}
}

static void test_long_path(void **state)
{
	static char spec[DISK_PATH_MAX + 16];

	(void)state;
	memset(spec, 'p', DISK_PATH_MAX - 1);
	spec[DISK_PATH_MAX - 1] = 0;
	assert_int_equal(parse(spec), 0);
	assert_int_equal(strlen(o.path), DISK_PATH_MAX - 1);
	strcat(spec, "p");
	assert_int_equal(parse(spec), -EINVAL);
	assert_string_equal(err, "the path is too long");
	/* A long key is cut short in the message. */
	memset(spec, 'k', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = 0;
	spec[0] = 'a';
	spec[1] = ',';
	assert_int_equal(parse(spec), -EINVAL);
	assert_true(strlen(err) < 100);
	/* A small error buffer is not overrun. */
	char small[8];
	assert_int_equal(disk_opts_parse("a,bad=1", &o, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_long_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
