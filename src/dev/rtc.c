/* The MC146818 RTC and its 128 bytes of CMOS memory at 0x70 (index, bit 7
 * is the NMI mask and ignored) and 0x71 (data), IRQ 8.
 *
 * The clock is the host's (CLOCK_REALTIME, as time() and gmtime() see it)
 * plus an offset the guest changes by setting the time. Registers are
 * computed when read, in BCD or binary and 12 or 24 hour format per register
 * B. Updates stop while B.SET is set or the divider (register A bits 6-4) is
 * not 010; the time registers then hold the time and take the guest's
 * writes, and the clock restarts from them (500 ms later into the second
 * after a divider reset, as the data sheet says).
 *
 * Register C's flags (update-ended, alarm, periodic) are brought up to date
 * from the clock at every access, so polling guests see them exactly; an
 * interrupt thread does the same at each event while B enables one of
 * them, so the IRQ line rises on time. The line is high while C.IRQF is. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/devices.h"
#include "machine/machine.h"

#define RTC_PORT      0x70
#define RTC_IRQ       8

enum {
	RTC_SEC = 0x00, RTC_SEC_ALARM = 0x01, RTC_MIN = 0x02, RTC_MIN_ALARM = 0x03,
	RTC_HOUR = 0x04, RTC_HOUR_ALARM = 0x05, RTC_WDAY = 0x06, RTC_MDAY = 0x07,
	RTC_MON = 0x08, RTC_YEAR = 0x09, RTC_REG_A = 0x0a, RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c, RTC_REG_D = 0x0d, RTC_CENTURY = 0x32,
};

#define A_UIP       0x80
#define A_DV_MASK   0x70
#define A_DV_32K    0x20   /* the divider runs from 32.768 kHz */
#define A_RS_MASK   0x0f
#define B_SET       0x80
#define B_PIE       0x40
#define B_AIE       0x20
#define B_UIE       0x10
#define B_DM_BINARY 0x04
#define B_24H       0x02
#define C_IRQF      0x80
#define C_PF        0x40
#define C_AF        0x20
#define C_UF        0x10
#define D_VRT       0x80

#define NSEC        1000000000LL
#define UIP_NS      244000LL  /* UIP rises this long before an update */
#define DAY         86400

/* A time as seconds and nanoseconds (0..NSEC-1): years past 2262 do not
 * fit in 64-bit nanoseconds, and the guest may set any year. */
struct rtc_time {
	int64_t s, ns;
};

/* Guest-visible state, plain data. */
struct rtc_regs {
	uint8_t cmos[128];       /* the time bytes are only used while stopped */
	uint8_t index;
	uint8_t irq_level;
	struct rtc_time offset;  /* guest time = host CLOCK_REALTIME + offset */
	int64_t last_sec;        /* guest second whose update was last seen */
	int64_t last_period;     /* periodic tick last seen */
};

struct rtc {
	struct rtc_regs r;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* wakes the interrupt thread */
	pthread_t thread;
	bool thread_started, stop;
	struct machine *m;
};

static const uint8_t rtc_time_regs[] = {
	RTC_SEC, RTC_MIN, RTC_HOUR, RTC_WDAY, RTC_MDAY, RTC_MON, RTC_YEAR, RTC_CENTURY,
};

static bool rtc_is_time_reg(unsigned i)
{
	for (size_t k = 0; k < sizeof(rtc_time_regs); k++)
		if (rtc_time_regs[k] == i)
			return true;
	return false;
}

static struct rtc_time rtc_host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (struct rtc_time){ ts.tv_sec, ts.tv_nsec };
}

static struct rtc_time rtc_add(struct rtc_time a, struct rtc_time b)
{
	struct rtc_time t = { a.s + b.s, a.ns + b.ns };

	if (t.ns >= NSEC)
		t.s++, t.ns -= NSEC;
	return t;
}

static struct rtc_time rtc_sub(struct rtc_time a, struct rtc_time b)
{
	struct rtc_time t = { a.s - b.s, a.ns - b.ns };

	if (t.ns < 0)
		t.s--, t.ns += NSEC;
	return t;
}

static struct rtc_time rtc_guest_at(const struct rtc_regs *r, struct rtc_time host)
{
	return rtc_add(host, r->offset);
}

static bool rtc_divider_runs(const struct rtc_regs *r)
{
	return (r->cmos[RTC_REG_A] & A_DV_MASK) == A_DV_32K;
}

static bool rtc_running(const struct rtc_regs *r)
{
	return rtc_divider_runs(r) && !(r->cmos[RTC_REG_B] & B_SET);
}

static uint8_t rtc_to_reg(const struct rtc_regs *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & B_DM_BINARY) ? v : (v / 10) << 4 | v % 10;
}

static unsigned rtc_from_reg(const struct rtc_regs *r, uint8_t v)
{
	return (r->cmos[RTC_REG_B] & B_DM_BINARY) ? v : (v >> 4) * 10 + (v & 15);
}

static uint8_t rtc_hour_to_reg(const struct rtc_regs *r, unsigned h)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return rtc_to_reg(r, h);
	return rtc_to_reg(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0);
}

static unsigned rtc_hour_from_reg(const struct rtc_regs *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & B_24H)
		return rtc_from_reg(r, v);
	return rtc_from_reg(r, v & 0x7f) % 12 + (v & 0x80 ? 12 : 0);
}

/* Fills the time bytes of cmos[] with the time at second s. */
static void rtc_latch(struct rtc_regs *r, int64_t s)
{
	time_t t = (time_t)s;
	struct tm tm;
	int64_t year;

	if (!gmtime_r(&t, &tm))
		return;
	year = (int64_t)tm.tm_year + 1900;
	r->cmos[RTC_SEC] = rtc_to_reg(r, tm.tm_sec);
	r->cmos[RTC_MIN] = rtc_to_reg(r, tm.tm_min);
	r->cmos[RTC_HOUR] = rtc_hour_to_reg(r, tm.tm_hour);
	r->cmos[RTC_WDAY] = rtc_to_reg(r, tm.tm_wday + 1);
	r->cmos[RTC_MDAY] = rtc_to_reg(r, tm.tm_mday);
	r->cmos[RTC_MON] = rtc_to_reg(r, tm.tm_mon + 1);
	r->cmos[RTC_YEAR] = rtc_to_reg(r, (unsigned)(year % 100));
	r->cmos[RTC_CENTURY] = rtc_to_reg(r, (unsigned)(year / 100) % 100);
}

/* The time the time bytes of cmos[] say, in seconds; false if none. */
static bool rtc_unlatch(const struct rtc_regs *r, int64_t *s)
{
	struct tm tm = {
		.tm_sec = rtc_from_reg(r, r->cmos[RTC_SEC]),
		.tm_min = rtc_from_reg(r, r->cmos[RTC_MIN]),
		.tm_hour = rtc_hour_from_reg(r, r->cmos[RTC_HOUR]),
		.tm_mday = rtc_from_reg(r, r->cmos[RTC_MDAY]),
		.tm_mon = (int)rtc_from_reg(r, r->cmos[RTC_MON]) - 1,
		.tm_year = (int)(rtc_from_reg(r, r->cmos[RTC_CENTURY]) * 100 +
				 rtc_from_reg(r, r->cmos[RTC_YEAR])) - 1900,
	};
	time_t t = timegm(&tm);

	if (t == (time_t)-1)
		return false;
	*s = t;
	return true;
}

/* Restarts the clock from the time bytes, ns into the second. */
static void rtc_restart(struct rtc_regs *r, struct rtc_time host, int64_t ns)
{
	int64_t s;

	if (!rtc_unlatch(r, &s))
		return;
	r->offset = rtc_sub((struct rtc_time){ s, ns }, host);
	r->last_sec = s;
}

/* Whether the alarm registers match the time of day tod (seconds). */
static bool rtc_alarm_match(const struct rtc_regs *r, int64_t tod)
{
	uint8_t as = r->cmos[RTC_SEC_ALARM], am = r->cmos[RTC_MIN_ALARM];
	uint8_t ah = r->cmos[RTC_HOUR_ALARM];

	return ((as & 0xc0) == 0xc0 || rtc_from_reg(r, as) == tod % 60) &&
	       ((am & 0xc0) == 0xc0 || rtc_from_reg(r, am) == tod / 60 % 60) &&
	       ((ah & 0xc0) == 0xc0 || rtc_hour_from_reg(r, ah) == tod / 3600);
}

static int64_t rtc_floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Nanoseconds between periodic interrupts; 0 when off. */
static int64_t rtc_period_ns(uint8_t rate)
{
	rate &= A_RS_MASK;
	if (!rate)
		return 0;
	if (rate <= 2)
		rate += 7;  /* 256 and 128 Hz, as the data sheet says */
	return (NSEC << (rate - 1)) / 32768;
}

/* Periodic ticks counted on the host clock (sane: it never needs the
 * guest's years, so nanoseconds fit). */
static int64_t rtc_host_ns(struct rtc_time host)
{
	return host.s * NSEC + host.ns;
}

static int64_t rtc_period_index(const struct rtc_regs *r, struct rtc_time host)
{
	int64_t p = rtc_period_ns(r->cmos[RTC_REG_A]);

	return p ? rtc_floor_div(rtc_host_ns(host), p) : 0;
}

static void rtc_update_irq(struct rtc *rtc)
{
	struct rtc_regs *r = &rtc->r;
	uint8_t level;

	if (r->cmos[RTC_REG_C] & r->cmos[RTC_REG_B] & (C_PF | C_AF | C_UF))
		r->cmos[RTC_REG_C] |= C_IRQF;
	level = !!(r->cmos[RTC_REG_C] & C_IRQF);
	if (level != r->irq_level) {
		r->irq_level = level;
		machine_set_irq(rtc->m, RTC_IRQ, level);
	}
}

/* Brings register C's flags up to the host time now. */
static void rtc_tick(struct rtc *rtc, struct rtc_time host)
{
	struct rtc_regs *r = &rtc->r;
	int64_t p, sec;

	if (rtc_running(r)) {
		sec = rtc_guest_at(r, host).s;
		if (sec > r->last_sec) {
			int64_t n = sec - r->last_sec;
			r->cmos[RTC_REG_C] |= C_UF;
			/* Any second of the interval may have matched the alarm. */
			for (int64_t k = 0; k < (n < DAY ? n : DAY); k++) {
				int64_t tod = sec - k - rtc_floor_div(sec - k, DAY) * DAY;
				if (rtc_alarm_match(r, tod)) {
					r->cmos[RTC_REG_C] |= C_AF;
					break;
				}
			}
		}
		r->last_sec = sec;
	}
	p = rtc_period_index(r, host);
	if (rtc_divider_runs(r) && p != r->last_period) /* index 0 when off */
		r->cmos[RTC_REG_C] |= C_PF;
	r->last_period = p;
	rtc_update_irq(rtc);
}

static uint8_t rtc_read_reg(struct rtc *rtc, struct rtc_time host)
{
	struct rtc_regs *r = &rtc->r;
	unsigned i = r->index;
	struct rtc_time g;
	uint8_t v;

	switch (i) {
	case RTC_REG_A:
		g = rtc_guest_at(r, host);
		v = r->cmos[RTC_REG_A] & ~A_UIP;
		if (rtc_running(r) && g.ns >= NSEC - UIP_NS)
			v |= A_UIP;
		return v;
	case RTC_REG_C:
		v = r->cmos[RTC_REG_C];
		r->cmos[RTC_REG_C] = 0;
		rtc_update_irq(rtc);
		return v;
	case RTC_REG_D:
		return D_VRT;
	default:
		if (rtc_is_time_reg(i) && rtc_running(r))
			rtc_latch(r, rtc_guest_at(r, host).s);
		return r->cmos[i];
	}
}

static void rtc_write_reg(struct rtc *rtc, struct rtc_time host, uint8_t v)
{
	struct rtc_regs *r = &rtc->r;
	unsigned i = r->index;
	bool was_running = rtc_running(r), divider_was = rtc_divider_runs(r);
	struct rtc_time g = rtc_guest_at(r, host);

	switch (i) {
	case RTC_REG_A:
		r->cmos[i] = v & ~A_UIP;
		/* A new rate counts its periods from now. */
		r->last_period = rtc_period_index(r, host);
		break;
	case RTC_REG_B:
		if (v & B_SET)
			v &= ~B_UIE;
		r->cmos[i] = v;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	default:
		if (rtc_is_time_reg(i) && was_running) {
			/* Setting one field of a running clock: the others stay. */
			rtc_latch(r, g.s);
			r->cmos[i] = v;
			rtc_restart(r, host, g.ns);
			return;
		}
		r->cmos[i] = v;
		return;
	}
	if (was_running && !rtc_running(r)) {
		rtc_latch(r, g.s);
	} else if (!was_running && rtc_running(r)) {
		rtc_restart(r, host, divider_was ? 0 : NSEC / 2);
	}
	rtc_update_irq(rtc);
	pthread_cond_signal(&rtc->cond);
}

static uint64_t rtc_read(void *opaque, uint64_t off, unsigned size)
{
	struct rtc *rtc = opaque;
	struct rtc_time host = rtc_host_now();
	uint64_t val = 0;

	pthread_mutex_lock(&rtc->lock);
	rtc_tick(rtc, host);
	for (unsigned i = 0; i < size && off + i < 2; i++)
		val |= (uint64_t)(off + i == 0 ? 0xff : rtc_read_reg(rtc, host)) << (8 * i);
	pthread_mutex_unlock(&rtc->lock);
	return val;
}

static void rtc_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct rtc *rtc = opaque;
	struct rtc_time host = rtc_host_now();

	pthread_mutex_lock(&rtc->lock);
	rtc_tick(rtc, host);
	for (unsigned i = 0; i < size && off + i < 2; i++) {
		uint8_t v = val >> (8 * i);
		if (off + i == 0)
			rtc->r.index = v & 0x7f; /* bit 7 masks NMIs: nothing to mask here */
		else
			rtc_write_reg(rtc, host, v);
	}
	pthread_mutex_unlock(&rtc->lock);
}

static const struct bus_ops rtc_ops = { rtc_read, rtc_write };

/* When the next event that B enables happens, in host time; false if none. */
static bool rtc_next_event(const struct rtc_regs *r, struct rtc_time host, struct rtc_time *at)
{
	uint8_t b = r->cmos[RTC_REG_B];
	bool any = false;

	if ((b & (B_UIE | B_AIE)) && rtc_running(r)) {
		struct rtc_time g = rtc_guest_at(r, host);
		*at = rtc_add(host, (struct rtc_time){ 0, NSEC - g.ns });
		any = true;
	}
	if ((b & B_PIE) && rtc_divider_runs(r) && rtc_period_ns(r->cmos[RTC_REG_A])) {
		int64_t p = rtc_period_ns(r->cmos[RTC_REG_A]);
		int64_t next = (rtc_floor_div(rtc_host_ns(host), p) + 1) * p;
		struct rtc_time t = { rtc_floor_div(next, NSEC), next - rtc_floor_div(next, NSEC) * NSEC };
		if (!any || t.s < at->s || (t.s == at->s && t.ns < at->ns))
			*at = t;
		any = true;
	}
	return any;
}

static void *rtc_thread(void *opaque)
{
	struct rtc *rtc = opaque;

	pthread_mutex_lock(&rtc->lock);
	while (!rtc->stop) {
		struct rtc_time at, host = rtc_host_now();

		rtc_tick(rtc, host);
		if (rtc_next_event(&rtc->r, host, &at)) {
			/* A little late rather than early: the flag is then set. */
			struct timespec ts = { at.s, at.ns };
			ts.tv_nsec += 20000;
			if (ts.tv_nsec >= NSEC)
				ts.tv_sec++, ts.tv_nsec -= NSEC;
			pthread_cond_timedwait(&rtc->cond, &rtc->lock, &ts);
		} else {
			pthread_cond_wait(&rtc->cond, &rtc->lock);
		}
	}
	pthread_mutex_unlock(&rtc->lock);
	return NULL;
}

static void rtc_destroy(void *opaque)
{
	struct rtc *rtc = opaque;

	if (rtc->thread_started) {
		pthread_mutex_lock(&rtc->lock);
		rtc->stop = true;
		pthread_cond_signal(&rtc->cond);
		pthread_mutex_unlock(&rtc->lock);
		pthread_join(rtc->thread, NULL);
	}
	pthread_cond_destroy(&rtc->cond);
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

static void rtc_put16(uint8_t *p, uint64_t v)
{
	v = v > 0xffff ? 0xffff : v;
	p[0] = v;
	p[1] = v >> 8;
}

/* The memory size bytes, as QEMU's PC fills them for its BIOS. */
static void rtc_memory_sizes(struct rtc_regs *r, const struct gmem *mem)
{
	uint64_t low = mem->low_size, high = mem->size - mem->low_size;

	rtc_put16(&r->cmos[0x15], low / 1024 < 640 ? low / 1024 : 640);
	rtc_put16(&r->cmos[0x17], low > (1 << 20) ? (low - (1 << 20)) / 1024 : 0);
	rtc_put16(&r->cmos[0x30], low > (1 << 20) ? (low - (1 << 20)) / 1024 : 0);
	rtc_put16(&r->cmos[0x34], low > (16 << 20) ? (low - (16 << 20)) / 65536 : 0);
	high /= 65536;
	if (high > 0xffffff)
		high = 0xffffff;
	r->cmos[0x5b] = high;
	r->cmos[0x5c] = high >> 8;
	r->cmos[0x5d] = high >> 16;
}

/* Snapshot section: the guest-visible registers. */
static int rtc_snap_save(void *opaque, void *buf)
{
	struct rtc *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(buf, &s->r, sizeof(s->r));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int rtc_snap_load(void *opaque, const void *buf)
{
	struct rtc *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(&s->r, buf, sizeof(s->r));
	if (s->r.offset.ns < 0 || s->r.offset.ns >= NSEC)
		s->r.offset.ns = 0;
	s->r.index &= 0x7f;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct machine_section rtc_snap_section = {
	"rtc", 1, sizeof(((struct rtc *)0)->r), rtc_snap_save, rtc_snap_load,
};

int rtc_init(struct machine *m)
{
	struct rtc *rtc = calloc(1, sizeof(*rtc));
	struct rtc_time host = rtc_host_now();
	int r;

	if (!rtc)
		return -ENOMEM;
	rtc->m = m;
	rtc->r.cmos[RTC_REG_A] = A_DV_32K | 0x06;  /* 1024 Hz periodic rate, off in B */
	rtc->r.cmos[RTC_REG_B] = B_24H;
	rtc->r.cmos[RTC_REG_D] = D_VRT;
	rtc->r.last_sec = host.s;
	rtc->r.last_period = rtc_period_index(&rtc->r, host);
	rtc_latch(&rtc->r, host.s);  /* the century byte and the rest, for the record */
	rtc_memory_sizes(&rtc->r, &m->mem);
	pthread_mutex_init(&rtc->lock, NULL);
	pthread_cond_init(&rtc->cond, NULL);
	r = -pthread_create(&rtc->thread, NULL, rtc_thread, rtc);
	if (r) {
		rtc_destroy(rtc);
		return r;
	}
	rtc->thread_started = true;
	r = bus_register(&m->bus, BUS_PIO, RTC_PORT, 2, &rtc_ops, rtc);
	if (r) {
		rtc_destroy(rtc);
		return r;
	}
	r = machine_add_device(m, "rtc", rtc, rtc_destroy);
	if (!r)
		machine_add_section(m, rtc, &rtc_snap_section);
	if (r) {
		bus_unregister(&m->bus, BUS_PIO, RTC_PORT);
		rtc_destroy(rtc);
	}
	return r;
}
