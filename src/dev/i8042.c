/* The i8042 keyboard controller at 0x60 (data) and 0x64 (status/command),
 * with no keyboard and no mouse attached.
 *
 * The controller itself is complete enough for Linux's i8042 driver: the
 * command byte, self and interface tests, port enable/disable, the loop
 * commands 0xd2/0xd3 (Linux tests AUX interrupt delivery with them), the
 * output port and the reset line (0xd1 with bit 0 clear, pulses 0xf0-0xfe
 * with bit 0 clear). A byte sent to a device (data port, or 0xd4 for AUX)
 * finds nobody: the controller answers 0xfe with the timeout bit set, which
 * Linux's libps2 takes as "no device" at once instead of waiting.
 * Interrupts: IRQ 1 while a keyboard-side byte waits in the output buffer
 * and the command byte enables it, IRQ 12 likewise for AUX bytes.
 * Port 0x61 belongs to the PIT (kvm's in-kernel one handles it). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/devices.h"
#include "machine/machine.h"

#define I8042_DATA_PORT    0x60
#define I8042_CMD_PORT     0x64
#define I8042_KBD_IRQ      1
#define I8042_AUX_IRQ      12
#define I8042_QUEUE        16

#define STR_OBF      0x01
#define STR_SYS      0x04
#define STR_CMD      0x08
#define STR_UNLOCKED 0x10
#define STR_AUXDATA  0x20
#define STR_TIMEOUT  0x40

#define CTR_KBDINT   0x01
#define CTR_AUXINT   0x02
#define CTR_SYS      0x04
#define CTR_KBDDIS   0x10
#define CTR_AUXDIS   0x20

#define OUT_RESET    0x01  /* low: the CPU is held in reset */
#define OUT_A20      0x02

/* Flags of a byte in the output buffer. */
#define Q_AUX        0x01
#define Q_TIMEOUT    0x02

/* Guest-visible state, plain data. ram[0] is the command byte (CTR). */
struct i8042_regs {
	uint8_t ram[32];
	uint8_t outport;
	uint8_t cmd_last;      /* the last write went to the command port */
	uint8_t pending;       /* command waiting for its data byte, or 0 */
	uint8_t last_data;     /* what the data port reads when the buffer is empty */
	uint8_t q[I8042_QUEUE], qflags[I8042_QUEUE];
	uint8_t qhead, qcount;
	uint8_t kbd_irq, aux_irq;
};

struct i8042 {
	struct i8042_regs r;
	pthread_mutex_t lock;
	struct machine *m;
};

static void i8042_queue(struct i8042_regs *r, uint8_t v, uint8_t flags)
{
	if (r->qcount == I8042_QUEUE)
		return; /* the guest never reads: older bytes win, as in a real buffer */
	r->q[(r->qhead + r->qcount) % I8042_QUEUE] = v;
	r->qflags[(r->qhead + r->qcount) % I8042_QUEUE] = flags;
	r->qcount++;
}

static void i8042_update_irq(struct i8042 *s)
{
	struct i8042_regs *r = &s->r;
	uint8_t head = r->qcount ? r->qflags[r->qhead] : 0;
	uint8_t kbd = r->qcount && !(head & Q_AUX) && (r->ram[0] & CTR_KBDINT);
	uint8_t aux = r->qcount && (head & Q_AUX) && (r->ram[0] & CTR_AUXINT);

	if (kbd != r->kbd_irq) {
		r->kbd_irq = kbd;
		machine_set_irq(s->m, I8042_KBD_IRQ, kbd);
	}
	if (aux != r->aux_irq) {
		r->aux_irq = aux;
		machine_set_irq(s->m, I8042_AUX_IRQ, aux);
	}
}

static uint8_t i8042_status(const struct i8042_regs *r)
{
	uint8_t st = STR_UNLOCKED | (r->ram[0] & CTR_SYS ? STR_SYS : 0) |
		     (r->cmd_last ? STR_CMD : 0);

	if (r->qcount) {
		uint8_t f = r->qflags[r->qhead];
		st |= STR_OBF | (f & Q_AUX ? STR_AUXDATA : 0) | (f & Q_TIMEOUT ? STR_TIMEOUT : 0);
	}
	return st;
}

static void i8042_reset(struct i8042 *s)
{
	machine_request_exit(s->m, VMON_EXIT_RESET);
}

/* Commands written to port 0x64. */
static void i8042_command(struct i8042 *s, uint8_t cmd)
{
	struct i8042_regs *r = &s->r;

	r->pending = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {          /* read controller RAM */
		i8042_queue(r, r->ram[cmd & 0x1f], 0);
		return;
	}
	if ((cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4)) {
		r->pending = cmd;                   /* data byte follows */
		return;
	}
	if (cmd >= 0xf0) {                          /* pulse output lines */
		if (!(cmd & OUT_RESET))
			i8042_reset(s);
		return;
	}
	switch (cmd) {
	case 0xa4: i8042_queue(r, 0xf1, 0); break;  /* no password installed */
	case 0xa7: r->ram[0] |= CTR_AUXDIS; break;
	case 0xa8: r->ram[0] &= ~CTR_AUXDIS; break;
	case 0xa9: i8042_queue(r, 0x00, 0); break;  /* AUX interface test: ok */
	case 0xaa:                                  /* self test */
		r->ram[0] |= CTR_SYS;
		i8042_queue(r, 0x55, 0);
		break;
	case 0xab: i8042_queue(r, 0x00, 0); break;  /* keyboard interface test: ok */
	case 0xad: r->ram[0] |= CTR_KBDDIS; break;
	case 0xae: r->ram[0] &= ~CTR_KBDDIS; break;
	case 0xc0: i8042_queue(r, 0x80, 0); break;  /* input port: not inhibited */
	case 0xd0:                                  /* read output port */
		i8042_queue(r, (r->outport & 0x0f) | (r->kbd_irq ? 0x10 : 0) |
			       (r->aux_irq ? 0x20 : 0), 0);
		break;
	case 0xdd: r->outport &= ~OUT_A20; break;
	case 0xdf: r->outport |= OUT_A20; break;
	case 0xe0: i8042_queue(r, 0x00, 0); break;  /* test inputs */
	default: break;                             /* unknown: ignored */
	}
}

/* Data written to port 0x60: a command's parameter, or a byte for the
 * keyboard, which is not there. */
static void i8042_data(struct i8042 *s, uint8_t v)
{
	struct i8042_regs *r = &s->r;
	uint8_t cmd = r->pending;

	r->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		r->ram[cmd & 0x1f] = v;
		return;
	}
	switch (cmd) {
	case 0xd1:
		r->outport = v;
		if (!(v & OUT_RESET))
			i8042_reset(s);
		break;
	case 0xd2: i8042_queue(r, v, 0); break;
	case 0xd3: i8042_queue(r, v, Q_AUX); break;
	case 0xd4: i8042_queue(r, 0xfe, Q_AUX | Q_TIMEOUT); break;
	default: i8042_queue(r, 0xfe, Q_TIMEOUT); break;
	}
}

static uint8_t i8042_read_data(struct i8042_regs *r)
{
	if (r->qcount) {
		r->last_data = r->q[r->qhead];
		r->qhead = (r->qhead + 1) % I8042_QUEUE;
		r->qcount--;
	}
	return r->last_data;
}

static uint64_t i8042_read(void *opaque, uint64_t port, unsigned size)
{
	struct i8042 *s = opaque;
	uint8_t v;

	(void)size;
	pthread_mutex_lock(&s->lock);
	v = port == I8042_DATA_PORT ? i8042_read_data(&s->r) : i8042_status(&s->r);
	i8042_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static void i8042_write(void *opaque, uint64_t port, unsigned size, uint64_t val)
{
	struct i8042 *s = opaque;

	(void)size;
	pthread_mutex_lock(&s->lock);
	s->r.cmd_last = port == I8042_CMD_PORT;
	if (port == I8042_CMD_PORT)
		i8042_command(s, val);
	else
		i8042_data(s, val);
	i8042_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* The two ports are registered apart (0x61 is not ours); each range gets
 * its own ops so that the handler knows which port it is. */
static uint64_t i8042_data_read(void *o, uint64_t off, unsigned size)
{
	(void)off;
	return i8042_read(o, I8042_DATA_PORT, size);
}

static void i8042_data_write(void *o, uint64_t off, unsigned size, uint64_t val)
{
	(void)off;
	i8042_write(o, I8042_DATA_PORT, size, val);
}

static uint64_t i8042_cmd_read(void *o, uint64_t off, unsigned size)
{
	(void)off;
	return i8042_read(o, I8042_CMD_PORT, size);
}

static void i8042_cmd_write(void *o, uint64_t off, unsigned size, uint64_t val)
{
	(void)off;
	i8042_write(o, I8042_CMD_PORT, size, val);
}

static const struct bus_ops i8042_data_ops = { i8042_data_read, i8042_data_write };
static const struct bus_ops i8042_cmd_ops = { i8042_cmd_read, i8042_cmd_write };

static void i8042_destroy(void *opaque)
{
	struct i8042 *s = opaque;

	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Snapshot section: the guest-visible registers. */
static int i8042_snap_save(void *opaque, void *buf)
{
	struct i8042 *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(buf, &s->r, sizeof(s->r));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int i8042_snap_load(void *opaque, const void *buf)
{
	struct i8042 *s = opaque;

	pthread_mutex_lock(&s->lock);
	memcpy(&s->r, buf, sizeof(s->r));
	if (s->r.qhead >= I8042_QUEUE || s->r.qcount > I8042_QUEUE)
		s->r.qhead = s->r.qcount = 0;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct machine_section i8042_snap_section = {
	"i8042", 1, sizeof(((struct i8042 *)0)->r), i8042_snap_save, i8042_snap_load,
};

int i8042_init(struct machine *m)
{
	struct i8042 *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->m = m;
	/* As a BIOS leaves it: translation, AUX off, keyboard interrupt on. */
	s->r.ram[0] = 0x40 | CTR_AUXDIS | CTR_SYS | CTR_KBDINT;
	s->r.outport = OUT_RESET | OUT_A20;
	s->r.cmd_last = 1;
	pthread_mutex_init(&s->lock, NULL);
	r = bus_register(&m->bus, BUS_PIO, I8042_DATA_PORT, 1, &i8042_data_ops, s);
	if (r)
		goto fail;
	r = bus_register(&m->bus, BUS_PIO, I8042_CMD_PORT, 1, &i8042_cmd_ops, s);
	if (r)
		goto fail_data;
	r = machine_add_device(m, "i8042", s, i8042_destroy);
	if (!r)
		machine_add_section(m, s, &i8042_snap_section);
	if (r)
		goto fail_cmd;
	return 0;
fail_cmd:
	bus_unregister(&m->bus, BUS_PIO, I8042_CMD_PORT);
fail_data:
	bus_unregister(&m->bus, BUS_PIO, I8042_DATA_PORT);
fail:
	i8042_destroy(s);
	return r;
}
