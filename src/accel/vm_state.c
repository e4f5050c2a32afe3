/* Checks of a struct vm_state from outside (a snapshot file) before either
 * accelerator takes it: only states the models can be in. */
#include "accel/vm_state.h"

#include <errno.h>

int vm_state_check(const struct vm_state *s)
{
	for (unsigned i = 0; i < 2; i++)
		if (s->pic.chip[i].init_step > 3 || s->pic.chip[i].top > 7)
			return -EINVAL;
	if (s->ioapic.regsel > 0x3f || s->ioapic.id > 15)
		return -EINVAL;
	for (unsigned i = 0; i < 3; i++) {
		const struct pit_channel *c = &s->pit.ch[i];
		if (c->mode > 5 || c->rw > 3 || c->latched > 4 || c->count > 0x10000 ||
		    (!c->count && c->running) || c->rstate > 1 || c->wstate > 1)
			return -EINVAL;
	}
	return 0;
}
