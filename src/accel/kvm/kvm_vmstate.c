/* The in-kernel PIC, IOAPIC and PIT and the VM's kvmclock to and from the
 * accelerator-neutral struct vm_state (the emu models' plain state), so
 * that a snapshot moves between kvm and emu. KVM keeps less than the
 * models (no ICW3, single or LTIM mode, port 0x61's speaker bits): those
 * take what a PC BIOS leaves; KVM_SET_PIT2 restarts every counter from its
 * reload value, as it does for QEMU. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <string.h>

#include "util/clock.h"

#define KVM_RW_WORD0 3
#define KVM_RW_WORD1 4

static void kvm_pic_get(struct pic_chip *c, const struct kvm_pic_state *k, unsigned which)
{
	memset(c, 0, sizeof(*c));
	c->irr = k->irr, c->isr = k->isr, c->imr = k->imr, c->line = k->last_irr;
	c->elcr = k->elcr, c->elcr_mask = k->elcr_mask;
	c->base = k->irq_base, c->top = k->priority_add & 7;
	c->init_step = k->init_state > 3 ? 0 : k->init_state;
	c->icw3 = which ? 2 : 4;
	c->need_icw4 = k->init4, c->auto_eoi = k->auto_eoi;
	c->rotate_auto_eoi = k->rotate_on_auto_eoi, c->sfnm = k->special_fully_nested_mode;
	c->read_isr = k->read_reg_select, c->poll = k->poll, c->special_mask = k->special_mask;
}

static void kvm_pic_set(struct kvm_pic_state *k, const struct pic_chip *c)
{
	memset(k, 0, sizeof(*k));
	k->irr = c->irr, k->isr = c->isr, k->imr = c->imr, k->last_irr = c->line;
	k->elcr = c->elcr, k->elcr_mask = c->elcr_mask;
	k->irq_base = c->base, k->priority_add = c->top & 7;
	k->init_state = c->init_step;
	k->init4 = c->need_icw4, k->auto_eoi = c->auto_eoi;
	k->rotate_on_auto_eoi = c->rotate_auto_eoi, k->special_fully_nested_mode = c->sfnm;
	k->read_reg_select = c->read_isr, k->poll = c->poll, k->special_mask = c->special_mask;
}

static void kvm_ioapic_get(struct ioapic_state *s, const struct kvm_ioapic_state *k)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < IOAPIC_PINS && i < KVM_IOAPIC_NUM_PINS; i++)
		s->redir[i] = k->redirtbl[i].bits;
	s->lines = k->irr;
	s->id = k->id & 15;
	s->regsel = k->ioregsel & 0xff;
}

static void kvm_ioapic_set(struct kvm_ioapic_state *k, const struct ioapic_state *s)
{
	memset(k, 0, sizeof(*k));
	k->base_address = 0xfec00000;
	for (unsigned i = 0; i < IOAPIC_PINS && i < KVM_IOAPIC_NUM_PINS; i++)
		k->redirtbl[i].bits = s->redir[i];
	k->irr = s->lines;
	k->id = s->id;
	k->ioregsel = s->regsel;
}

static uint8_t kvm_rw_state(uint8_t rw, uint8_t high_next)
{
	return rw == 3 ? (high_next ? KVM_RW_WORD1 : KVM_RW_WORD0) : rw;
}

static void kvm_pit_get(struct pit_channel *c, const struct kvm_pit_channel_state *k,
			uint64_t now)
{
	memset(c, 0, sizeof(*c));
	c->count = k->count ? k->count : 0x10000;
	c->latch = k->latched_count;
	c->latched = k->count_latched;
	c->status_latched = k->status_latched;
	c->status = k->status;
	c->rw = k->rw_mode & 3;
	c->rstate = k->read_state == KVM_RW_WORD1;
	c->wstate = k->write_state == KVM_RW_WORD1;
	c->wbuf = k->write_latch;
	c->mode = k->mode > 5 ? 3 : k->mode;
	c->bcd = k->bcd & 1;
	c->gate = k->gate & 1;
	c->loaded = c->running = c->rw != 0;
	c->start = pit_ticks(k->count_load_time > 0 ? (uint64_t)k->count_load_time : now);
	/* Gate low stops modes 0, 2, 3 and 4 where they were. */
	if (c->running && !c->gate && c->mode != 1 && c->mode != 5) {
		uint64_t t = pit_ticks(now);
		c->frozen = 1;
		c->frozen_at = t > c->start ? t - c->start : 0;
	}
}

static void kvm_pit_set(struct kvm_pit_channel_state *k, const struct pit_channel *c)
{
	memset(k, 0, sizeof(*k));
	k->count = c->count;
	k->latched_count = c->latch;
	k->count_latched = c->latched;
	k->status_latched = c->status_latched;
	k->status = c->status;
	k->rw_mode = c->rw;
	k->read_state = kvm_rw_state(c->rw, c->rstate);
	k->write_state = kvm_rw_state(c->rw, c->wstate);
	k->write_latch = (uint8_t)c->wbuf;
	k->mode = c->mode;
	k->bcd = c->bcd;
	k->gate = c->gate;
	k->count_load_time = (int64_t)pit_tick_ns(c->start);
}

static int kvm_chip(struct accel_vm *vm, unsigned id, struct kvm_irqchip *chip, bool set)
{
	int r;

	if (!set)
		memset(chip, 0, sizeof(*chip));
	chip->chip_id = id;
	r = kvm_ioctl(vm->fd, set ? KVM_SET_IRQCHIP : KVM_GET_IRQCHIP, chip);
	return r < 0 ? r : 0;
}

int kvm_vm_get_state(struct accel_vm *vm, struct vm_state *s)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk = { 0 };
	uint64_t now;
	int r;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < 2; i++) {
		if ((r = kvm_chip(vm, i ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER, &chip,
				  false)))
			return r;
		kvm_pic_get(&s->pic.chip[i], &chip.chip.pic, i);
	}
	if ((r = kvm_chip(vm, KVM_IRQCHIP_IOAPIC, &chip, false)))
		return r;
	kvm_ioapic_get(&s->ioapic, &chip.chip.ioapic);
	if ((r = kvm_ioctl(vm->fd, KVM_GET_PIT2, &pit)) < 0)
		return r;
	now = clock_ns();
	for (unsigned i = 0; i < 3; i++)
		kvm_pit_get(&s->pit.ch[i], &pit.channels[i], now);
	s->pit.port61 = pit.channels[2].gate & 1;
	s->pit.irq0_level = 1;
	pit_settle(&s->pit, now);
	s->pit_now = pit_ticks(now);
	if (vm->clock_paused) {
		s->clock_ns = vm->paused_clock;
		return 0;
	}
	if ((r = kvm_ioctl(vm->fd, KVM_GET_CLOCK, &clk)) < 0)
		return r;
	s->clock_ns = clk.clock;
	return 0;
}

int kvm_vm_set_state(struct accel_vm *vm, const struct vm_state *s)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clk = { .clock = s->clock_ns };
	uint64_t now = clock_ns(), shift = pit_ticks(now) - s->pit_now;
	int r;

	for (unsigned i = 0; i < 2; i++) {
		memset(&chip, 0, sizeof(chip));
		kvm_pic_set(&chip.chip.pic, &s->pic.chip[i]);
		if ((r = kvm_chip(vm, i ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER, &chip,
				  true)))
			return r;
	}
	memset(&chip, 0, sizeof(chip));
	kvm_ioapic_set(&chip.chip.ioapic, &s->ioapic);
	if ((r = kvm_chip(vm, KVM_IRQCHIP_IOAPIC, &chip, true)))
		return r;
	memset(&pit, 0, sizeof(pit));
	for (unsigned i = 0; i < 3; i++) {
		struct pit_channel c = s->pit.ch[i];
		c.start += shift;
		kvm_pit_set(&pit.channels[i], &c);
	}
	if ((r = kvm_ioctl(vm->fd, KVM_SET_PIT2, &pit)) < 0)
		return r;
	if (vm->clock_paused)
		vm->paused_clock = s->clock_ns;
	r = kvm_ioctl(vm->fd, KVM_SET_CLOCK, &clk);
	return r < 0 ? r : 0;
}
