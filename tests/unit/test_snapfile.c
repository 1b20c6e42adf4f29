/* Snapshot generations (lib/snapfile.c): numbering, the `keep` bound, exact payload round trip,
 * and every way a file can be bad (flipped byte, truncation, wrong magic, version, length,
 * generation, over the size limit) falling back to the previous generation with the reason,
 * never trusted. */
#define _GNU_SOURCE /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapfile.h"

static char root[] = "/tmp/driftd-snap-test-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fresh_dir(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "%s/%s", root, name);
}

static void write_gen(const char *dir, const char *text, uint64_t want_gen)
{
	uint64_t g = 0;
	assert_int_equal(dd_snap_write(dir, text, strlen(text), 3, &g), 0);
	assert_int_equal(g, want_gen);
}

static void path_of(const char *dir, uint64_t gen, char *out, size_t size)
{
	snprintf(out, size, "%s/state-%016llx.snap", dir, (unsigned long long)gen);
}

/* Read the newest valid generation as a string (free it). */
static char *read_newest(const char *dir, uint64_t *gen, unsigned *skipped, char *why, size_t whysz)
{
	struct driftd_buf b = {0};
	int rc = dd_snap_read(dir, 0, 1 << 20, &b, gen, skipped, why, whysz);
	if (rc < 0) {
		driftd_buf_free(&b);
		errno = -rc;
		return NULL;
	}
	char *s = strndup((const char *)b.data, b.len);
	driftd_buf_free(&b);
	return s;
}

static void test_generations_and_keep(void **unused)
{
	char dir[128];
	fresh_dir(dir, sizeof(dir), "gens/nested");
	struct driftd_buf b = {0};
	uint64_t g;
	unsigned sk;
	char why[512];
	assert_int_equal(dd_snap_read(dir, 0, 100, &b, &g, &sk, why, sizeof(why)), -ENOENT);
	for (int i = 1; i <= 5; i++) {
		char text[32];
		snprintf(text, sizeof(text), "state number %d", i);
		write_gen(dir, text, (uint64_t)i);
	}
	uint64_t *gens;
	size_t n;
	assert_int_equal(dd_snap_list(dir, &gens, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(gens[0], 5);
	assert_int_equal(gens[1], 4);
	assert_int_equal(gens[2], 3);
	free(gens);
	char *s = read_newest(dir, &g, &sk, why, sizeof(why));
	assert_string_equal(s, "state number 5");
	assert_int_equal(g, 5);
	assert_int_equal(sk, 0);
	free(s);
	/* An exact generation, and one that is gone. */
	assert_int_equal(dd_snap_read(dir, 3, 100, &b, &g, &sk, why, sizeof(why)), 0);
	assert_int_equal(g, 3);
	assert_memory_equal(b.data, "state number 3", 14);
	assert_int_equal(dd_snap_read(dir, 1, 100, &b, &g, &sk, why, sizeof(why)), -ENOENT);
	/* An empty payload is a valid state. */
	assert_int_equal(dd_snap_write(dir, "", 0, 2, &g), 0);
	assert_int_equal(g, 6);
	assert_int_equal(dd_snap_list(dir, &gens, &n), 0);
	assert_int_equal(n, 2); /* keep 2 now */
	free(gens);
	assert_int_equal(dd_snap_read(dir, 0, 100, &b, &g, &sk, why, sizeof(why)), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(dd_snap_write(dir, "x", 1, 1, &g), -EINVAL);
	/* Mode 0600 files in a 0700 directory. */
	struct stat st;
	char p[256];
	path_of(dir, 6, p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	driftd_buf_free(&b);
}

/* Damage the newest file with fn and check the reader falls back to generation 1 saying why. */
static void check_fallback(const char *name, void (*damage)(const char *path), const char *reason)
{
	char dir[128], p[256], why[512];
	fresh_dir(dir, sizeof(dir), name);
	write_gen(dir, "good old state", 1);
	write_gen(dir, "newer state", 2);
	path_of(dir, 2, p, sizeof(p));
	damage(p);
	uint64_t g;
	unsigned sk;
	char *s = read_newest(dir, &g, &sk, why, sizeof(why));
	if (!s || strcmp(s, "good old state") != 0 || g != 1 || sk != 1 || !strstr(why, reason) ||
	    !strstr(why, "state-0000000000000002.snap: "))
		fail_msg("%s: got %s gen %llu skipped %u why '%s' (wanted '%s')", name,
		         s ? s : "nothing", (unsigned long long)g, sk, why, reason);
	free(s);
	/* Asked for exactly the damaged one: refused. */
	struct driftd_buf b = {0};
	assert_int_equal(dd_snap_read(dir, 2, 1 << 20, &b, &g, &sk, why, sizeof(why)), -EBADMSG);
	driftd_buf_free(&b);
}

static void edit(const char *path, off_t at, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, n, at), (ssize_t)n);
	close(fd);
}

static void flip_payload(const char *p)
{
	edit(p, DD_SNAP_HEADER + 3, "X", 1);
}
static void truncate_payload(const char *p)
{
	assert_int_equal(truncate(p, DD_SNAP_HEADER + 4), 0);
}
static void truncate_header(const char *p)
{
	assert_int_equal(truncate(p, 20), 0);
}
static void bad_magic(const char *p)
{
	edit(p, 0, "NOTDRIFT", 8);
}
static void bad_version(const char *p)
{
	edit(p, 8, "\x07", 1);
}
static void huge_length(const char *p)
{
	edit(p, 24 + 6, "\x01", 1);
}
static void wrong_generation(const char *p)
{
	/* A valid file of generation 1 under generation 2's name. */
	char one[256];
	snprintf(one, sizeof(one), "%.*s1.snap", (int)(strlen(p) - 6), p);
	FILE *in = fopen(one, "rb");
	assert_non_null(in);
	char buf[256];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	FILE *out = fopen(p, "wb");
	fwrite(buf, 1, n, out);
	fclose(out);
}

static void test_corrupt_falls_back(void **unused)
{
	check_fallback("flip", flip_payload, "checksum mismatch");
	check_fallback("trunc", truncate_payload, "bytes follow the header");
	check_fallback("trunchdr", truncate_header, "truncated header");
	check_fallback("magic", bad_magic, "bad magic");
	check_fallback("version", bad_version, "format version 7");
	check_fallback("length", huge_length, "over the limit");
	check_fallback("gen", wrong_generation, "holds generation 1");
}

static void test_all_corrupt_and_limits(void **unused)
{
	char dir[128], p[256], why[512];
	fresh_dir(dir, sizeof(dir), "allbad");
	write_gen(dir, "a", 1);
	write_gen(dir, "b", 2);
	path_of(dir, 1, p, sizeof(p));
	flip_payload(p); /* 1 byte payload: offset 3 is past it: extends the file */
	path_of(dir, 2, p, sizeof(p));
	bad_magic(p);
	struct driftd_buf b = {0};
	uint64_t g;
	unsigned sk;
	assert_int_equal(dd_snap_read(dir, 0, 100, &b, &g, &sk, why, sizeof(why)), -EBADMSG);
	assert_int_equal(sk, 2);
	assert_non_null(strstr(why, "bad magic"));
	assert_non_null(strstr(why, "; state-0000000000000001.snap: "));

	/* Over max_len: not even read. */
	fresh_dir(dir, sizeof(dir), "limit");
	write_gen(dir, "0123456789", 1);
	assert_int_equal(dd_snap_read(dir, 0, 9, &b, &g, &sk, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "limit of 9"));
	assert_int_equal(dd_snap_read(dir, 0, 10, &b, &g, &sk, why, sizeof(why)), 0);
	/* A temp file a crash left is removed by the next write, and never read. */
	snprintf(p, sizeof(p), "%s/.tmp-state-0000000000000002.snap", dir);
	FILE *f = fopen(p, "w");
	fputs("half", f);
	fclose(f);
	write_gen(dir, "next", 2);
	assert_int_equal(access(p, F_OK), -1);
	/* A tiny why buffer is never overrun. */
	path_of(dir, 2, p, sizeof(p));
	bad_magic(p);
	char small[8];
	assert_int_equal(dd_snap_read(dir, 0, 100, &b, &g, &sk, small, sizeof(small)), 0);
	assert_int_equal(strlen(small), 7);
	driftd_buf_free(&b);
}

/* A payload whose every byte says which generation wrote it. */
static void fill(uint8_t *p, size_t n, uint64_t seq)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7);
}

/* kill -9 while generations are being written, 100 times: the directory always reads back as
 * a valid generation whose payload is exactly what was written (never a torn file). */
static void test_kill9_while_writing(void **unused)
{
	char dir[128], why[512];
	fresh_dir(dir, sizeof(dir), "kill9");
	const size_t n = 256 * 1024;
	uint8_t *want = malloc(n);
	struct timespec seed;
	clock_gettime(CLOCK_MONOTONIC, &seed);
	srand((unsigned)seed.tv_nsec);
	unsigned fell_back = 0;
	for (int round = 0; round < 100; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			uint8_t *buf = malloc(n);
			for (uint64_t seq = 0;; seq++) {
				/* The generation number is not known before the write: the payload
				 * carries a sequence the reader checks against its own header. */
				uint64_t g;
				fill(buf + 8, n - 8, seq);
				memcpy(buf, &seq, 8);
				if (dd_snap_write(dir, buf, n, 3, &g) < 0)
					_exit(1);
			}
		}
		struct timespec d = {0, (rand() % 15000) * 1000L};
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		assert_true(WIFSIGNALED(st));
		struct driftd_buf b = {0};
		uint64_t g;
		unsigned sk;
		int rc = dd_snap_read(dir, 0, n, &b, &g, &sk, why, sizeof(why));
		if (rc == -ENOENT)
			continue; /* killed before the first one */
		if (rc != 0 || b.len != n)
			fail_msg("round %d: rc %d len %zu: %s", round, rc, b.len, why);
		uint64_t seq;
		memcpy(&seq, b.data, 8);
		fill(want + 8, n - 8, seq);
		assert_memory_equal(b.data + 8, want + 8, n - 8);
		fell_back += sk;
		driftd_buf_free(&b);
	}
	/* A rename is atomic and files are fsynced before it: nothing to fall back from. */
	assert_int_equal(fell_back, 0);
	free(want);
}

int main(void)
{
	if (!mkdtemp(root))
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generations_and_keep),
	    cmocka_unit_test(test_corrupt_falls_back),
	    cmocka_unit_test(test_all_corrupt_and_limits),
	    cmocka_unit_test(test_kill9_while_writing),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
