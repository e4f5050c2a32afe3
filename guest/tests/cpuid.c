/* CPUID as the vmon machine presents it: a vendor, the hypervisor bit, the
 * KVM signature, long mode, and a BSP APIC id that matches the MADT. */
#include "lib.h"

int main(void)
{
	uint32_t r[4];
	char vendor[13] = { 0 };
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	unsigned printable = 0;
	for (int i = 0; i < 12; i++)
		printable += vendor[i] > ' ' && vendor[i] < 0x7f;
	printf("vendor: %u of 12 characters printable\n", printable);
	if (printable != 12 || r[0] < 1)
		return 2;

	cpuid(1, 0, r);
	unsigned initial_apic = r[1] >> 24;
	printf("hypervisor bit: %s\n", r[2] & 1u << 31 ? "set" : "clear");
	if (!(r[2] & 1u << 31))
		return 3;

	cpuid(0x40000000, 0, r);
	char sig[13] = { 0 };
	memcpy(sig, &r[1], 4);
	memcpy(sig + 4, &r[2], 4);
	memcpy(sig + 8, &r[3], 4);
	printf("hypervisor signature: %s, leaves up to 0x4000000%s\n", sig,
	       r[0] >= 0x40000001 ? "1 or more" : "0 only");
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12) || r[0] < 0x40000001)
		return 4;

	cpuid(0x80000000, 0, r);
	unsigned lm = 0;
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		lm = r[3] >> 29 & 1;
	}
	printf("long mode: %s\n", lm ? "yes" : "no");
	if (!lm)
		return 5;

	unsigned madt_id;
	if (acpi_madt_lapic(0, &madt_id) < 0) {
		puts("madt: no local APIC");
		return 6;
	}
	lapic_enable();
	unsigned lapic = lapic_id();
	printf("bsp apic id: cpuid %u, madt %u, lapic %u\n", initial_apic, madt_id, lapic);
	if (initial_apic != madt_id || lapic != madt_id)
		return 7;
	puts("cpuid: ok");
	return 0;
}
