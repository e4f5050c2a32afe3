#include "dev/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
	return -pthread_rwlock_init(&b->lock, NULL);
}

void bus_destroy(struct bus *b)
{
	for (int i = 0; i < BUS_NSPACES; i++)
		free(b->ranges[i]);
	pthread_rwlock_destroy(&b->lock);
}

/* Index of the first range whose end is above addr. */
static unsigned bus_search(const struct bus *b, enum bus_space sp, uint64_t addr)
{
	unsigned lo = 0, hi = b->count[sp];

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->ranges[sp][mid];
		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, enum bus_space sp, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque)
{
	struct bus_range *r;
	unsigned i;
	int err = 0;

	if (!len || base + len - 1 < base || sp >= BUS_NSPACES)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	i = bus_search(b, sp, base);
	if (i < b->count[sp] && b->ranges[sp][i].base <= base + len - 1) {
		err = -EEXIST;
		goto out;
	}
	if (b->count[sp] == b->cap[sp]) {
		unsigned cap = b->cap[sp] ? 2 * b->cap[sp] : 16;
		r = realloc(b->ranges[sp], cap * sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		b->ranges[sp] = r;
		b->cap[sp] = cap;
	}
	r = b->ranges[sp];
	memmove(&r[i + 1], &r[i], (b->count[sp] - i) * sizeof(*r));
	r[i] = (struct bus_range){ base, len, ops, opaque };
	b->count[sp]++;
out:
	pthread_rwlock_unlock(&b->lock);
	return err;
}

int bus_unregister(struct bus *b, enum bus_space sp, uint64_t base)
{
	struct bus_range *r;
	unsigned i;
	int err = -ENOENT;

	if (sp >= BUS_NSPACES)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	i = bus_search(b, sp, base);
	r = b->ranges[sp];
	if (i < b->count[sp] && r[i].base == base) {
		memmove(&r[i], &r[i + 1], (b->count[sp] - i - 1) * sizeof(*r));
		b->count[sp]--;
		err = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return err;
}

bool bus_access(struct bus *b, enum bus_space sp, uint64_t addr, unsigned size,
		bool write, uint64_t *val)
{
	const struct bus_range *r = NULL;
	struct bus_range hit;
	unsigned i;

	if (sp >= BUS_NSPACES || !size || size > 8) {
		if (!write)
			*val = ~0ULL;
		return false;
	}
	pthread_rwlock_rdlock(&b->lock);
	i = bus_search(b, sp, addr);
	if (i < b->count[sp] && b->ranges[sp][i].base <= addr &&
	    addr + size - 1 <= b->ranges[sp][i].base + b->ranges[sp][i].len - 1 &&
	    addr + size - 1 >= addr) {
		hit = b->ranges[sp][i];
		r = &hit;
	}
	pthread_rwlock_unlock(&b->lock);

	if (!r) {
		if (!write)
			*val = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
		return false;
	}
	if (write) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, size, *val);
	} else {
		*val = r->ops->read ? r->ops->read(r->opaque, addr - r->base, size) : ~0ULL;
		if (size < 8)
			*val &= (1ULL << (8 * size)) - 1;
	}
	return true;
}
