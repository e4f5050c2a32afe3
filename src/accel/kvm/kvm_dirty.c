/* KVM's dirty log: KVM_MEM_LOG_DIRTY_PAGES on every RAM slot, read with
 * KVM_GET_DIRTY_LOG per slot. With KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 the
 * read leaves the pages writable and KVM_CLEAR_DIRTY_LOG re-protects only
 * those that were dirty (less time under KVM's MMU lock, no write faults
 * on clean pages). A slot's bit j is page j of the slot, which is host
 * mapping page (slot host - RAM start) / 4096 + j. */
#include "accel/kvm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "machine/machine.h"

static uint64_t slot_pages(const struct kvm_ram_slot *s)
{
	return (s->size + 4095) / 4096;
}

static void logs_free(struct accel_vm *vm)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		free(vm->slots[i].log);
		vm->slots[i].log = NULL;
	}
}

void kvm_dirty_destroy(struct accel_vm *vm)
{
	logs_free(vm);
}

int kvm_vm_dirty_log(struct accel_vm *vm, bool on)
{
	unsigned i;
	int r = 0;

	if (on == vm->dirty_on)
		return 0;
	if (on) {
		for (i = 0; i < vm->nslots; i++) {
			vm->slots[i].log = calloc((slot_pages(&vm->slots[i]) + 63) / 64, 8);
			if (!vm->slots[i].log) {
				logs_free(vm);
				return -ENOMEM;
			}
		}
		/* Only the manual bit, not INITIALLY_SET: the log starts clean. */
		if (!vm->dirty_manual &&
		    ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0) {
			struct kvm_enable_cap cap = {
				.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
			};
			vm->dirty_manual = kvm_ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == 0;
		}
	}
	for (i = 0; i < vm->nslots; i++)
		if ((r = kvm_set_slot(vm, i, on ? KVM_MEM_LOG_DIRTY_PAGES : 0)) && on)
			break;
	if (on && r) {
		while (i--)
			kvm_set_slot(vm, i, 0);
		logs_free(vm);
		return r;
	}
	vm->dirty_on = on;
	if (!on)
		logs_free(vm);
	return r;
}

/* ORs a slot's log into bitmap from host page base on; bits newly set. */
static int64_t log_merge(const uint64_t *log, uint64_t pages, uint64_t base, uint64_t *bitmap)
{
	int64_t count = 0;

	for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
		uint64_t v = log[w];
		while (v) {
			uint64_t j = w * 64 + (uint64_t)__builtin_ctzll(v), pg = base + j;
			v &= v - 1;
			if (j >= pages)
				break;
			if (!(bitmap[pg / 64] & (1ULL << (pg % 64)))) {
				bitmap[pg / 64] |= 1ULL << (pg % 64);
				count++;
			}
		}
	}
	return count;
}

int64_t kvm_vm_dirty_collect(struct accel_vm *vm, uint64_t *bitmap)
{
	uint8_t *ram = vm->m->mem.host;
	int64_t count = 0;

	if (!vm->dirty_on)
		return -EINVAL;
	for (unsigned i = 0; i < vm->nslots; i++) {
		struct kvm_ram_slot *s = &vm->slots[i];
		uint64_t pages = slot_pages(s), words = (pages + 63) / 64;
		struct kvm_dirty_log get = { .slot = i, .dirty_bitmap = s->log };
		bool any = false;
		int r;

		if ((uint8_t *)s->host < ram || (uint8_t *)s->host - ram >= (ptrdiff_t)vm->m->mem.size)
			return -EINVAL;
		memset(s->log, 0, words * 8);
		if ((r = kvm_ioctl(vm->fd, KVM_GET_DIRTY_LOG, &get)) < 0)
			return r;
		for (uint64_t w = 0; w < words && !any; w++)
			any = s->log[w] != 0;
		if (!any)
			continue;
		if (vm->dirty_manual) {
			/* Re-protected before the caller reads the pages: a
			 * write from here on is in the next collect. */
			struct kvm_clear_dirty_log clr = {
				.slot = i, .num_pages = (uint32_t)pages, .first_page = 0,
				.dirty_bitmap = s->log,
			};
			if ((r = kvm_ioctl(vm->fd, KVM_CLEAR_DIRTY_LOG, &clr)) < 0)
				return r;
		}
		count += log_merge(s->log, pages, (uint64_t)((uint8_t *)s->host - ram) / 4096, bitmap);
	}
	return count;
}
