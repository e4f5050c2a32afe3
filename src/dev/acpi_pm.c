/* The ACPI fixed hardware (PM1a event and control blocks, PM timer) at
 * the ports of the FADT, and the reset register at 0xcf9 (as on the PIIX).
 * (unless the PCI host bridge decodes 0xcf9 already).
 * The machine is always in ACPI mode (SCI_EN reads 1, no SMI_CMD). The one
 * event is the fixed power button (the API's shutdown): PWRBTN_STS, and
 * the SCI, level-triggered, while PWRBTN_STS and PWRBTN_EN are both set.
 * The timer's carry status is kept for reading but never delivered. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dev/bus.h"
#include "dev/devices.h"
#include "machine/acpi.h"
#include "machine/machine.h"
#include "util/clock.h"
#include "util/log.h"

/* One range holds the three blocks: status, enable, control, a gap, timer. */
#define PM_BLOCK_LEN 12
_Static_assert(ACPI_PM1_CNT == ACPI_PM1_EVT + 4 && ACPI_PM_TMR == ACPI_PM1_EVT + 8,
	       "acpi_pm expects PM1_EVT, PM1_CNT and PM_TMR in one 12-byte block");

enum { PM_STS = 0, PM_EN = 1, PM_CNT = 2 };  /* 16-bit registers, by index */

#define PM_TMR_HZ 3579545ULL
#define PM1_TMR_STS    (1u << 0)
#define PM1_PWRBTN     (1u << 8)             /* PWRBTN_STS / PWRBTN_EN */
#define PM1_EN_MASK    0x4721u               /* TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS */
#define PM1_SCI_EN     (1u << 0)
#define PM1_CNT_MASK   ((1u << 1) | (7u << 10)) /* BM_RLD, SLP_TYP: kept as written */
#define PM1_SLP_TYP(v) (((v) >> 10) & 7)
#define PM1_SLP_EN     (1u << 13)            /* write-only */
#define RESET_RST_CPU  0x04                  /* 0 -> 1 resets */
#define RESET_KEEP     0x0a                  /* SYS_RST, FULL_RST: read back */

/* What the guest sees: plain data. */
struct acpi_pm_state {
	uint16_t pm1_sts, pm1_en, pm1_cnt;  /* pm1_sts: the latched event bits */
	uint8_t reset;
	uint64_t tmr_sts_ticks;  /* timer ticks when TMR_STS was last cleared */
	uint64_t ticks;          /* the timer at a snapshot */
};

struct acpi_pm {
	struct acpi_pm_state s;
	struct machine *m;
	pthread_mutex_t lock;
	uint64_t tick_offset;    /* a restored timer goes on from its saved count */
};

/* The free-running PM timer, as a 64-bit count of 3.579545 MHz ticks of
 * the guest's time: it stands still while the machine is paused. */
static uint64_t acpi_pm_ticks(const struct acpi_pm *pm)
{
	uint64_t ns = machine_guest_ns(pm->m);

	return (uint64_t)((unsigned __int128)ns * PM_TMR_HZ / 1000000000ULL) + pm->tick_offset;
}

/* TMR_STS is set whenever bit 31 of the (32-bit) timer has changed since
 * the guest last cleared it. */
static uint16_t acpi_pm_status(const struct acpi_pm *pm, uint64_t ticks)
{
	return (ticks >> 31) != (pm->s.tmr_sts_ticks >> 31) ? PM1_TMR_STS : 0;
}

static uint64_t acpi_pm_read(void *opaque, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint64_t ticks = acpi_pm_ticks(pm), v = 0;
	uint8_t b[PM_BLOCK_LEN] = { 0 };
	uint16_t regs[3];

	pthread_mutex_lock(&pm->lock);
	regs[PM_STS] = acpi_pm_status(pm, ticks) | pm->s.pm1_sts;
	regs[PM_EN] = pm->s.pm1_en;
	regs[PM_CNT] = pm->s.pm1_cnt | PM1_SCI_EN;
	pthread_mutex_unlock(&pm->lock);
	for (int i = 0; i < 3; i++) {
		b[2 * i] = (uint8_t)regs[i];
		b[2 * i + 1] = (uint8_t)(regs[i] >> 8);
	}
	for (int i = 0; i < 4; i++)
		b[8 + i] = (uint8_t)(ticks >> (8 * i));
	for (unsigned i = 0; i < size && off + i < PM_BLOCK_LEN; i++)
		v |= (uint64_t)b[off + i] << (8 * i);
	return v;
}

/* The SCI line follows the enabled events; with pm->lock held. */
static void acpi_pm_update_sci(struct acpi_pm *pm)
{
	machine_set_irq(pm->m, ACPI_SCI_IRQ, !!(pm->s.pm1_sts & pm->s.pm1_en & PM1_PWRBTN));
}

int acpi_pm_power_button(struct machine *m)
{
	struct acpi_pm *pm = machine_device(m, "acpi_pm");

	if (!pm)
		return -ENODEV;
	pthread_mutex_lock(&pm->lock);
	pm->s.pm1_sts |= PM1_PWRBTN;
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static void acpi_pm_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = opaque;
	uint16_t wval[3] = { 0 }, wmask[3] = { 0 };
	bool poweroff = false;
	unsigned typ = 0;

	/* Split the access into the bytes of each 16-bit register it covers;
	 * the timer (bytes 8-11) and the gap ignore writes. */
	for (unsigned i = 0; i < size; i++) {
		uint64_t pos = off + i;
		if (pos >= 6)
			break;
		wval[pos / 2] |= (uint16_t)(((val >> (8 * i)) & 0xff) << (8 * (pos % 2)));
		wmask[pos / 2] |= (uint16_t)(0xff << (8 * (pos % 2)));
	}
	pthread_mutex_lock(&pm->lock);
	if (wval[PM_STS] & wmask[PM_STS] & PM1_TMR_STS)
		pm->s.tmr_sts_ticks = acpi_pm_ticks(pm);
	pm->s.pm1_sts &= (uint16_t)~(wval[PM_STS] & wmask[PM_STS]); /* write 1 to clear */
	pm->s.pm1_en = (uint16_t)((pm->s.pm1_en & ~wmask[PM_EN]) |
				  (wval[PM_EN] & wmask[PM_EN] & PM1_EN_MASK));
	pm->s.pm1_cnt = (uint16_t)((pm->s.pm1_cnt & ~(wmask[PM_CNT] & PM1_CNT_MASK)) |
				   (wval[PM_CNT] & wmask[PM_CNT] & PM1_CNT_MASK));
	acpi_pm_update_sci(pm);
	if (wval[PM_CNT] & wmask[PM_CNT] & PM1_SLP_EN) {
		typ = PM1_SLP_TYP(pm->s.pm1_cnt);
		poweroff = true;
	}
	pthread_mutex_unlock(&pm->lock);

	if (!poweroff)
		return;
	if (typ == ACPI_S5_TYPE)
		machine_request_exit(pm->m, VMON_EXIT_POWEROFF);
	else
		log_guest("ACPI sleep type %u is not supported; ignored", typ);
}

static uint64_t acpi_pm_reset_read(void *opaque, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t v;

	(void)off, (void)size;
	pthread_mutex_lock(&pm->lock);
	v = pm->s.reset;
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static void acpi_pm_reset_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = opaque;

	(void)off, (void)size;
	if (val & RESET_RST_CPU) {
		machine_request_exit(pm->m, VMON_EXIT_RESET);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	pm->s.reset = (uint8_t)(val & RESET_KEEP);
	pthread_mutex_unlock(&pm->lock);
}

static const struct bus_ops acpi_pm_ops = { acpi_pm_read, acpi_pm_write };
static const struct bus_ops acpi_pm_reset_ops = { acpi_pm_reset_read, acpi_pm_reset_write };

static void acpi_pm_destroy(void *state)
{
	struct acpi_pm *pm = state;

	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* Snapshot section: the guest-visible registers. */
static int acpi_pm_snap_save(void *opaque, void *buf)
{
	struct acpi_pm *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->s.ticks = acpi_pm_ticks(s);
	memcpy(buf, &s->s, sizeof(s->s));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int acpi_pm_snap_load(void *opaque, const void *buf)
{
	struct acpi_pm *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(&s->s, buf, sizeof(s->s));
	s->tick_offset = 0;
	s->tick_offset = s->s.ticks - acpi_pm_ticks(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct machine_section acpi_pm_snap_section = {
	"acpi_pm", 2, sizeof(((struct acpi_pm *)0)->s), acpi_pm_snap_save, acpi_pm_snap_load,
};

int acpi_pm_init(struct machine *m)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int r;

	if (!pm)
		return -ENOMEM;
	pm->m = m;
	pm->s.tmr_sts_ticks = acpi_pm_ticks(pm);
	pthread_mutex_init(&pm->lock, NULL);
	if ((r = machine_add_device(m, "acpi_pm", pm, acpi_pm_destroy))) {
		acpi_pm_destroy(pm);
		return r;
	}
	machine_add_section(m, pm, &acpi_pm_snap_section);
	if ((r = bus_register(&m->bus, BUS_PIO, ACPI_PM1_EVT, PM_BLOCK_LEN, &acpi_pm_ops, pm)))
		return r;
	/* 0xcf9 sits inside CONFIG_ADDRESS at 0xcf8: a PCI host bridge that
	 * claims 0xcf8-0xcff decodes the reset register itself, as Intel
	 * chipsets do (src/dev/pci.c). Only where none does is it ours. */
	r = bus_register(&m->bus, BUS_PIO, ACPI_RESET, 1, &acpi_pm_reset_ops, pm);
	return r == -EEXIST ? 0 : r;
}
