/* Level-triggered INTx of a virtio PCI function (virtio-rng, MSI-X left
 * off): the IOAPIC pins that may carry it (the pin of the function's
 * interrupt line per the MADT, and the PCI pins 16-23 a q35 routes to)
 * are programmed level-triggered, active-low, as the _PRT says. After a
 * used buffer the handler first EOIs without reading the ISR status: the
 * line is still asserted, so the IOAPIC delivers again; that time the
 * handler reads the ISR, which lowers the line. After that no interrupt
 * may find the ISR set, and there is no storm: at most two late ones that
 * read ISR 0, as a shared-line driver sees them (this host's KVM, with
 * QEMU as with vmon, delivers one such after the line went down). */
#include "virtio_guest.h"

#define VEC_INTX 0x46
#define RTE_LEVEL (1u << 15)
#define RTE_LOW   (1u << 13)
#define RTE_MASK  (1u << 16)

static struct vqueue vq;
static struct vdev v;
/* Per phase: interrupts from ack_from on read the ISR; the first read's
 * value, and the later interrupts that found it set or clear. */
static volatile unsigned irqs, ack_from, late_set, late_clear;
static volatile uint8_t first_isr;
static uint8_t buf[2][32] __attribute__((aligned(64)));
static uint64_t ioapic;
static unsigned npins;
static uint32_t pins;

static void on_intx(struct trap_frame *f)
{
	(void)f;
	if (++irqs >= ack_from) {
		uint8_t isr = r8(v.isr);       /* reading lowers the line */
		if (!first_isr)
			first_isr = isr;
		else if (isr)
			late_set++;
		else
			late_clear++;
	}
	lapic_eoi();
}

static void program_pins(uint32_t rte_low)
{
	for (unsigned p = 0; p < npins; p++) {
		if (!(pins >> p & 1))
			continue;
		ioapic_write(ioapic, 0x10 + 2 * p + 1, lapic_id() << 24);
		ioapic_write(ioapic, 0x10 + 2 * p, rte_low);
	}
}

/* Posts buffer i and takes its interrupts; 0 when they were right. */
static int phase(uint16_t i, unsigned ack_after)
{
	struct deadline d;
	unsigned before = irqs;

	ack_from = before + 1 + ack_after;
	first_isr = 0;
	late_set = late_clear = 0;
	vq.desc[i] = (struct vq_desc){ (uint64_t)buf[i], sizeof(buf[i]), 2 /* WRITE */, 0 };
	vq_post(&vq, i);
	if (vq_wait_used(&vq, i + 1, 5000000)) {
		printf("virtio-intx: buffer %u not used in 5 s\n", i);
		return -1;
	}
	deadline_set(&d, 2000000);
	sti();
	while (!first_isr && !deadline_passed(&d))
		pause();
	delay_us(100000);
	cli();
	if (first_isr != 1 || late_set || late_clear > 2) {
		printf("virtio-intx: buffer %u: %u interrupts, ISR %u, then %u with ISR set, "
		       "%u clear\n", i, irqs - before, first_isr, late_set, late_clear);
		return -1;
	}
	if (ack_after)
		printf("virtio-intx: buffer %u: delivered again after an EOI without ISR read\n", i);
	printf("virtio-intx: buffer %u: ISR 1, and its read lowered the line\n", i);
	return 0;
}

int main(void)
{
	uint64_t bar[6];
	unsigned gsi_base, line, flags;

	if (acpi_init() < 0 || acpi_madt_ioapic(&ioapic, &gsi_base) < 0 || gsi_base) {
		puts("virtio-intx: no ACPI tables or IOAPIC");
		return 1;
	}
	if (vdev_find(&v, 0x1044)) {
		puts("virtio-intx: no device 1af4:1044 on bus 0");
		return 2;
	}
	vdev_place_bars(&v, bar);
	if (vdev_caps(&v, bar)) {
		puts("virtio-intx: missing virtio capabilities");
		return 3;
	}
	printf("virtio-intx: interrupt pin %c\n", '@' + r8(v.cfg + 0x3d));
	npins = (ioapic_read(ioapic, 1) >> 16 & 0xff) + 1;
	line = r8(v.cfg + 0x3c);
	if (line < 16)
		pins |= 1u << acpi_isa_gsi(line, &flags);
	for (unsigned p = 16; p < npins && p < 24; p++)
		pins |= 1u << p;
	pic_disable();
	idt_set_handler(VEC_INTX, on_intx);
	lapic_enable();
	program_pins(VEC_INTX | RTE_LEVEL | RTE_LOW);

	vdev_reset(&v);
	if (vdev_negotiate(&v, 0) || vdev_queue(&v, 0, &vq)) {
		puts("virtio-intx: setup refused");
		return 4;
	}
	w8(v.common + CC_STATUS, VS_ACK | VS_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK);
	if (phase(0, 1) || phase(1, 0))
		return 5;
	printf("virtio-intx: ISR now %u\n", r8(v.isr));
	program_pins(VEC_INTX | RTE_LEVEL | RTE_LOW | RTE_MASK);
	vdev_reset(&v);
	return 0;
}
