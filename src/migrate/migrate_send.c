/* The source of a live migration, on a thread of its own: handshake,
 * pre-copy passes over the pages the guest dirtied, stop-and-copy, then
 * the handover. Until the target says RUNNING the source can go back:
 * whatever fails before GO resumes the VM here as it was. */
#include <errno.h>
#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dev/virtio/virtio_blk.h"
#include "machine/dirty.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "migrate/migrate.h"
#include "migrate/migrate_uri.h"
#include "util/clock.h"
#include "util/log.h"

#define MIGRATE_CONNECT_MS 10000
#define MIGRATE_IO_MS      30000
#define MIGRATE_BUILD_MS   60000   /* the target builds its machine */
#define MIGRATE_SEEN_MS    2000    /* how long "completed" waits to be read */
#define MIGRATE_RELOCK_TRIES 300   /* 10 ms apart */

struct migrate_src {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct migrate_status st;
	pthread_t thread;
	bool have_thread, busy, holds_pause, seen;
	int fd;
	struct machine *m;
	struct migrate_uri uri;
};

static struct migrate_src src = {
	.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	.st = { .status = "none" }, .fd = -1,
};

/* One run of the sender. */
struct migrate_tx {
	struct machine *m;
	struct migrate_io io;
	uint64_t *bitmap, npages;
	uint8_t run[MIGRATE_RUN_MAX * MIGRATE_PAGE];
	uint64_t zero_first, zero_count;   /* zero pages not yet announced */
	char *err;
	size_t errlen;
};

static void migrate_set(const char *status)
{
	pthread_mutex_lock(&src.lock);
	snprintf(src.st.status, sizeof(src.st.status), "%s", status);
	pthread_mutex_unlock(&src.lock);
}

void migrate_cpu_features(const char *acc, uint32_t out[5])
{
	unsigned a, b, c, d;

	memset(out, 0, 5 * sizeof(out[0]));
	if (strcmp(acc, "kvm"))
		return; /* emu's CPU is the same wherever this vmon runs */
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		out[0] = c;
		out[1] = d;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		out[2] = b;
		out[3] = c;
		out[4] = d;
	}
	out[0] &= ~(1u << 27); /* OSXSAVE follows the host kernel, not the CPU */
}

static bool migrate_page_zero(const uint8_t *p)
{
	static const uint8_t z[MIGRATE_PAGE];

	return !memcmp(p, z, MIGRATE_PAGE);
}

static int migrate_flush_zero(struct migrate_tx *t)
{
	int r;

	if (!t->zero_count)
		return 0;
	r = migrate_send(&t->io, MIG_ZERO, t->zero_first, &t->zero_count, 8);
	pthread_mutex_lock(&src.lock);
	src.st.zero_pages += t->zero_count;
	src.st.bytes_sent += sizeof(struct migrate_chunk) + 8;
	pthread_mutex_unlock(&src.lock);
	t->zero_count = 0;
	return r;
}

/* Sends the copied run [first, first + n) of t->run: zero pages are
 * gathered into ZERO chunks, the others go as PAGES. */
static int migrate_send_run(struct migrate_tx *t, uint64_t first, uint64_t n)
{
	uint64_t k = 0;
	int r;

	while (k < n) {
		uint64_t l = k;
		if (migrate_page_zero(t->run + k * MIGRATE_PAGE)) {
			if (t->zero_count && t->zero_first + t->zero_count != first + k &&
			    (r = migrate_flush_zero(t)))
				return r;
			if (!t->zero_count)
				t->zero_first = first + k;
			t->zero_count++;
			k++;
			continue;
		}
		while (l < n && !migrate_page_zero(t->run + l * MIGRATE_PAGE))
			l++;
		if ((r = migrate_flush_zero(t)) ||
		    (r = migrate_send(&t->io, MIG_PAGES, first + k, t->run + k * MIGRATE_PAGE,
				      (uint32_t)((l - k) * MIGRATE_PAGE))))
			return r;
		pthread_mutex_lock(&src.lock);
		src.st.pages_sent += l - k;
		src.st.bytes_sent += sizeof(struct migrate_chunk) + (l - k) * MIGRATE_PAGE;
		pthread_mutex_unlock(&src.lock);
		k = l;
	}
	return 0;
}

static bool migrate_bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

/* Sends every page set in the bitmap and clears it. Each page is copied
 * before the CRC: the guest may write it meanwhile (then it is dirty again
 * and goes in the next pass). */
static int migrate_send_bitmap(struct migrate_tx *t)
{
	uint64_t i = 0;
	int r;

	while (i < t->npages) {
		if (!t->bitmap[i / 64]) {
			i = (i / 64 + 1) * 64;
			continue;
		}
		if (!migrate_bit(t->bitmap, i)) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < t->npages && j - i < MIGRATE_RUN_MAX && migrate_bit(t->bitmap, j)) {
			t->bitmap[j / 64] &= ~(1ULL << (j % 64));
			j++;
		}
		memcpy(t->run, t->m->mem.host + i * MIGRATE_PAGE, (j - i) * MIGRATE_PAGE);
		if ((r = migrate_send_run(t, i, j - i)))
			return r;
		if (atomic_load(&t->m->stopping))
			return -ECANCELED;
		i = j;
	}
	return migrate_flush_zero(t);
}

static int migrate_fail(struct migrate_tx *t, int r, const char *fmt, const char *what)
{
	snprintf(t->err, t->errlen, fmt, what ? what : strerror(r < 0 ? -r : r));
	return r ? r : -EIO;
}

/* Reads the next chunk, which must be of type want (FAIL: the target's why). */
static int migrate_expect(struct migrate_tx *t, uint32_t want, const char *what)
{
	struct migrate_chunk c;
	char why[MIGRATE_TEXT_MAX + 1], e[200];
	int r = migrate_read(&t->io, &c, e, sizeof(e));

	if (r)
		return migrate_fail(t, r, what, e);
	if (c.type == MIG_FAIL || (c.type == MIG_ANSWER && c.arg)) {
		migrate_text(&t->io, &c, why, sizeof(why));
		return migrate_fail(t, -ECONNREFUSED, "the target refused: %s", why);
	}
	if (c.type != want)
		return migrate_fail(t, -EPROTO, what, "unexpected answer");
	return 0;
}

static int migrate_handshake(struct migrate_tx *t)
{
	static struct migrate_hello h;
	int r;

	memset(&h, 0, sizeof(h));
	snapshot_config_fill(t->m, &h.cfg);
	h.snapshot_version = SNAPSHOT_VERSION;
	h.page_size = MIGRATE_PAGE;
	migrate_cpu_features(t->m->accel->name, h.cpu_features);
	snprintf(h.vmon_version, sizeof(h.vmon_version), "%s", VMON_VERSION);
	if ((r = migrate_send_preamble(&t->io)) ||
	    (r = migrate_send(&t->io, MIG_HELLO, 0, &h, sizeof(h))))
		return migrate_fail(t, r, "cannot send the offer: %s", NULL);
	return migrate_expect(t, MIG_ANSWER, "no answer to the offer: %s");
}

/* Pre-copy: all of RAM, then the pages dirtied meanwhile until what is
 * left fits the downtime target at the bandwidth measured. */
static int migrate_precopy(struct migrate_tx *t, uint64_t target_ms)
{
	uint64_t words = (t->npages + 63) / 64;

	memset(t->bitmap, 0xff, words * 8);
	if (t->npages % 64)
		t->bitmap[words - 1] = (1ULL << (t->npages % 64)) - 1;
	for (uint32_t it = 1;; it++) {
		uint64_t t0 = clock_ns(), b0, dt;
		int64_t n;
		int r;
		pthread_mutex_lock(&src.lock);
		b0 = src.st.bytes_sent;
		pthread_mutex_unlock(&src.lock);
		if ((r = migrate_send_bitmap(t)) || (r = migrate_send(&t->io, MIG_ITER, it, NULL, 0)))
			return migrate_fail(t, r, "sending RAM: %s", r == -ECANCELED ? "the VM stopped" : NULL);
		if ((n = dirty_collect(t->m, t->bitmap)) < 0)
			return migrate_fail(t, (int)n, "dirty-page tracking: %s", NULL);
		dt = clock_ns() - t0 + 1;
		pthread_mutex_lock(&src.lock);
		src.st.iteration = it;
		src.st.dirty_pages = (uint64_t)n;
		src.st.dirty_rate = (uint64_t)((double)n * 1e9 / (double)dt);
		src.st.bandwidth = (uint64_t)((double)(src.st.bytes_sent - b0) * 1e9 / (double)dt);
		src.st.expected_downtime_ms = src.st.bandwidth
			? (uint64_t)n * MIGRATE_PAGE * 1000 / src.st.bandwidth : 0;
		bool done = src.st.expected_downtime_ms <= target_ms || it >= MIGRATE_MAX_ITER;
		pthread_mutex_unlock(&src.lock);
		if (done)
			return 0;
	}
}

/* Stop-and-copy and the handover. */
static int migrate_finish(struct migrate_tx *t, uint64_t *paused_at)
{
	struct machine *m = t->m;
	bool was_paused = machine_is_paused(m);
	struct snapshot_buf b = { 0 };
	int r, r2;

	if ((r = machine_pause(m)))
		return migrate_fail(t, r, "cannot pause the VM: %s", NULL);
	*paused_at = clock_ns();
	pthread_mutex_lock(&src.lock);
	src.holds_pause = true;
	pthread_mutex_unlock(&src.lock);
	migrate_set("stop-and-copy");
	int64_t n = dirty_collect(m, t->bitmap);
	dirty_stop(m);
	if (n >= 0) {
		n = 0;
		for (uint64_t w = 0; w < (t->npages + 63) / 64; w++)
			n += __builtin_popcountll(t->bitmap[w]);
	}
	if (n < 0) {
		r = migrate_fail(t, (int)n, "dirty-page tracking: %s", NULL);
		goto back;
	}
	pthread_mutex_lock(&src.lock);
	src.st.final_pages = (uint64_t)n;
	pthread_mutex_unlock(&src.lock);
	if ((r = migrate_send_bitmap(t))) {
		r = migrate_fail(t, r, "sending RAM: %s", NULL);
		goto back;
	}
	log_debug("migration: paused, %lld last pages sent in %.1f ms", (long long)n,
		  (double)(clock_ns() - *paused_at) / 1e6);
	if ((r = snapshot_build(m, &b))) {
		r = migrate_fail(t, r, "cannot save the VM's state: %s", NULL);
		goto back;
	}
	if ((r = virtio_blk_handover(m, true))) {
		r = migrate_fail(t, r, "cannot release the disks: %s", NULL);
		goto back;
	}
	migrate_set("handover");
	log_debug("migration: state of %zu bytes built, disks released at %.1f ms", b.len,
		  (double)(clock_ns() - *paused_at) / 1e6);
	if ((r = migrate_send(&t->io, MIG_STATE, 0, b.data, (uint32_t)b.len)) ||
	    (r = migrate_send(&t->io, MIG_END, 0, NULL, 0))) {
		r = migrate_fail(t, r, "sending the state: %s", NULL);
		goto relock;
	}
	((struct migrate_fd *)t->io.opaque)->timeout_ms = MIGRATE_BUILD_MS;
	if ((r = migrate_expect(t, MIG_READY, "the target did not load the VM: %s")))
		goto relock;
	((struct migrate_fd *)t->io.opaque)->timeout_ms = MIGRATE_IO_MS;
	log_debug("migration: the target is ready %.1f ms after the pause",
		  (double)(clock_ns() - *paused_at) / 1e6);
	/* From here on the target may be running the VM: never resume here. */
	if ((r = migrate_send(&t->io, MIG_GO, 0, NULL, 0)) ||
	    (r = migrate_expect(t, MIG_RUNNING, "%s"))) {
		char why[200];
		snprintf(why, sizeof(why), "%s", t->err);
		snprintf(t->err, t->errlen, "the target did not confirm after the handover (%s): "
			 "the VM stays paused here and may run there", why);
		snapshot_buf_free(&b);
		return r;
	}
	snapshot_buf_free(&b);
	return 0;
relock:
	/* A target that failed gives the locks back as it exits. */
	for (int i = 0; (r2 = virtio_blk_handover(m, false)) == -EBUSY && i < MIGRATE_RELOCK_TRIES; i++)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	if (r2) {
		char why[200];
		snprintf(why, sizeof(why), "%s", t->err);
		snprintf(t->err, t->errlen, "%s; the disks cannot be locked again (%s): the VM "
			 "stays paused", why, strerror(-r2));
		snapshot_buf_free(&b);
		pthread_mutex_lock(&src.lock);
		src.holds_pause = false;
		pthread_mutex_unlock(&src.lock);
		return r;
	}
back:
	snapshot_buf_free(&b);
	pthread_mutex_lock(&src.lock);
	src.holds_pause = false;
	pthread_mutex_unlock(&src.lock);
	if (!was_paused && machine_resume(m))
		log_error("migration: cannot resume the VM");
	return r;
}

static int migrate_run(struct migrate_tx *t, uint64_t target_ms, uint64_t *paused_at)
{
	int r;

	if ((r = migrate_handshake(t)))
		return r;
	if ((r = dirty_start(t->m)))
		return migrate_fail(t, r, "dirty-page tracking: %s", NULL);
	migrate_set("active");
	if ((r = migrate_precopy(t, target_ms))) {
		dirty_stop(t->m);
		return r;
	}
	return migrate_finish(t, paused_at);
}

static void *migrate_thread(void *arg)
{
	struct migrate_tx *t = arg;
	struct migrate_fd f = { .fd = -1, .timeout_ms = MIGRATE_IO_MS };
	char err[256] = "";
	uint64_t t0 = clock_ns(), paused_at = 0, target_ms;
	int r;

	pthread_mutex_lock(&src.lock);
	target_ms = src.st.downtime_target_ms;
	pthread_mutex_unlock(&src.lock);
	t->err = err;
	t->errlen = sizeof(err);
	migrate_io_fd(&t->io, &f);
	/* Connected here, not in the API's thread: it answers meanwhile. */
	r = migrate_uri_connect(&src.uri, MIGRATE_CONNECT_MS);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot connect to %.150s: %s", src.st.uri,
			 strerror(-r));
	} else {
		pthread_mutex_lock(&src.lock);
		src.fd = f.fd = r;
		pthread_mutex_unlock(&src.lock);
		if (atomic_load(&t->m->stopping))
			r = migrate_fail(t, -ECANCELED, "%s", "the VM stopped");
		else
			r = migrate_run(t, target_ms, &paused_at);
		if (r) /* tell the target why, if it still listens (it exits) */
			migrate_send_text(&t->io, MIG_FAIL, 0, err);
	}
	migrate_io_free(&t->io);
	pthread_mutex_lock(&src.lock);
	if (src.fd >= 0)
		close(src.fd);
	src.fd = -1;
	src.st.total_ms = (clock_ns() - t0) / 1000000;
	if (!r)
		src.st.downtime_ms = (clock_ns() - paused_at) / 1000000;
	snprintf(src.st.status, sizeof(src.st.status), "%s", r ? "failed" : "completed");
	snprintf(src.st.error, sizeof(src.st.error), "%s", r ? err : "");
	src.seen = false;
	if (!r) {
		/* The client polling GET /vm/migration sees "completed" before the
		 * API socket goes away with this monitor. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += MIGRATE_SEEN_MS / 1000;
		while (!src.seen && !atomic_load(&t->m->stopping) &&
		       pthread_cond_timedwait(&src.cond, &src.lock, &ts) != ETIMEDOUT)
			;
	}
	src.busy = false;
	pthread_mutex_unlock(&src.lock);
	if (r)
		log_error("migration to %s failed: %s", src.st.uri, err);
	else {
		log_info("migrated to %s in %llu ms (downtime %llu ms): this monitor ends",
			 src.st.uri, (unsigned long long)src.st.total_ms,
			 (unsigned long long)src.st.downtime_ms);
		machine_request_exit(t->m, VMON_EXIT_POWEROFF);
	}
	free(t->bitmap);
	free(t);
	return NULL;
}

int migrate_start(struct machine *m, const char *uri, uint64_t downtime_ms, char *err,
		  size_t errlen)
{
	struct migrate_uri u;
	struct migrate_tx *t;
	const char *why;
	int r;

	if ((r = migrate_uri_parse(uri, &u, err, errlen)))
		return r;
	if ((why = virtio_blk_handover_problem(m))) {
		snprintf(err, errlen, "%s", why);
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&src.lock);
	if (src.busy || atomic_load(&m->stopping)) {
		pthread_mutex_unlock(&src.lock);
		snprintf(err, errlen, "%s", src.busy ? "a migration is under way" : "the VM is stopping");
		return -EBUSY;
	}
	if (src.have_thread) {
		pthread_join(src.thread, NULL);
		src.have_thread = false;
	}
	src.busy = true;
	pthread_mutex_unlock(&src.lock);

	t = calloc(1, sizeof(*t));
	if (t) {
		t->m = m;
		t->npages = m->mem.size / MIGRATE_PAGE;
		t->bitmap = calloc((t->npages + 63) / 64, 8);
	}
	pthread_mutex_lock(&src.lock);
	memset(&src.st, 0, sizeof(src.st));
	snprintf(src.st.uri, sizeof(src.st.uri), "%s", uri);
	src.st.downtime_target_ms = downtime_ms;
	src.st.ram_pages = m->mem.size / MIGRATE_PAGE;
	snprintf(src.st.status, sizeof(src.st.status), "setup");
	src.m = m;
	src.fd = -1;
	src.uri = u;
	src.holds_pause = false;
	r = t && t->bitmap ? -pthread_create(&src.thread, NULL, migrate_thread, t) : -ENOMEM;
	if (r) {
		snprintf(src.st.status, sizeof(src.st.status), "failed");
		snprintf(err, errlen, "cannot start the migration: %s", strerror(-r));
		snprintf(src.st.error, sizeof(src.st.error), "%s", err);
		src.busy = false;
		pthread_mutex_unlock(&src.lock);
		if (t)
			free(t->bitmap);
		free(t);
		return r;
	}
	src.have_thread = true;
	pthread_mutex_unlock(&src.lock);
	return 0;
}

void migrate_get(struct migrate_status *s)
{
	pthread_mutex_lock(&src.lock);
	*s = src.st;
	if (!strcmp(s->status, "completed") || !strcmp(s->status, "failed")) {
		src.seen = true;
		pthread_cond_broadcast(&src.cond);
	}
	pthread_mutex_unlock(&src.lock);
}

bool migrate_holds_pause(void)
{
	pthread_mutex_lock(&src.lock);
	bool h = src.busy && src.holds_pause;
	pthread_mutex_unlock(&src.lock);
	return h;
}

void migrate_join(void)
{
	pthread_mutex_lock(&src.lock);
	if (!src.have_thread) {
		pthread_mutex_unlock(&src.lock);
		return;
	}
	/* The machine is stopping: unblock a read or write. */
	if (src.fd >= 0)
		shutdown(src.fd, SHUT_RDWR);
	pthread_cond_broadcast(&src.cond);
	pthread_mutex_unlock(&src.lock);
	pthread_join(src.thread, NULL);
	src.have_thread = false;
}
