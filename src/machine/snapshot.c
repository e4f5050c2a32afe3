/* Snapshot state file: header, sections (name, instance, version, size,
 * data padded to 8 bytes), CRC32 (zlib) of everything before it. */
#include "machine/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "block/block.h"
#include "machine/machine.h"
#include "util/log.h"

#define SNAP_PAGE 4096

static size_t snap_pad(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void snap_grow(struct snapshot_buf *b, size_t more)
{
	if (b->err || b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->data = p;
	b->cap = cap;
}

void snapshot_buf_init(struct snapshot_buf *b)
{
	memset(b, 0, sizeof(*b));
	snap_grow(b, sizeof(struct snapshot_header));
	if (!b->err) {
		memset(b->data, 0, sizeof(struct snapshot_header));
		b->len = sizeof(struct snapshot_header);
	}
}

void snapshot_buf_add(struct snapshot_buf *b, const char *name, uint32_t instance,
		      uint32_t version, const void *data, uint32_t size)
{
	struct snapshot_section_header h = { .instance = instance, .version = version,
					     .size = size };

	if (strlen(name) >= SNAPSHOT_NAME_MAX) {
		b->err = b->err ? b->err : -ENAMETOOLONG;
		return;
	}
	strcpy(h.name, name);
	snap_grow(b, sizeof(h) + snap_pad(size));
	if (b->err)
		return;
	memcpy(b->data + b->len, &h, sizeof(h));
	memcpy(b->data + b->len + sizeof(h), data, size);
	memset(b->data + b->len + sizeof(h) + size, 0, snap_pad(size) - size);
	b->len += sizeof(h) + snap_pad(size);
	b->nsections++;
}

int snapshot_buf_finish(struct snapshot_buf *b)
{
	struct snapshot_header h = { .version = SNAPSHOT_VERSION };
	uint32_t crc;

	snap_grow(b, sizeof(crc));
	if (b->err)
		return b->err;
	memcpy(h.magic, SNAPSHOT_MAGIC, 8);
	h.nsections = b->nsections;
	h.length = b->len + sizeof(crc);
	memcpy(b->data, &h, sizeof(h));
	crc = (uint32_t)crc32(0, b->data, (uInt)b->len);
	memcpy(b->data + b->len, &crc, sizeof(crc));
	b->len += sizeof(crc);
	return 0;
}

void snapshot_buf_free(struct snapshot_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- Reading ---- */

static int snap_bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int snap_bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool snap_terminated(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

static int snap_check_config(const struct snapshot_config *c, char *err, size_t errlen)
{
	if (c->mem_size < (16ULL << 20) || c->mem_size % SNAP_PAGE || c->mem_size >> 48)
		return snap_bad(err, errlen, "bad memory size %llu", (unsigned long long)c->mem_size);
	if (!c->ncpus || c->ncpus > MACHINE_MAX_CPUS)
		return snap_bad(err, errlen, "bad vCPU count %u", c->ncpus);
	if (c->ndisks > DISK_MAX || c->nnets > NET_MAX)
		return snap_bad(err, errlen, "too many disks or network cards");
	if (!snap_terminated(c->accel, sizeof(c->accel)) ||
	    !snap_terminated(c->vconsole, sizeof(c->vconsole)))
		return snap_bad(err, errlen, "unterminated string in the configuration");
	for (unsigned i = 0; i < c->ndisks; i++)
		if (!snap_terminated(c->disks[i].path, sizeof(c->disks[i].path)) ||
		    !snap_terminated(c->disks[i].serial, sizeof(c->disks[i].serial)) ||
		    !c->disks[i].path[0])
			return snap_bad(err, errlen, "disk %u: bad path or serial", i);
	for (unsigned i = 0; i < c->nnets; i++)
		if ((c->nets[i].kind != NET_USER && c->nets[i].kind != NET_TAP) ||
		    c->nets[i].nfwd > NET_HOSTFWD_MAX ||
		    !snap_terminated(c->nets[i].ifname, sizeof(c->nets[i].ifname)))
			return snap_bad(err, errlen, "network card %u: bad settings", i);
	return 0;
}

int snapshot_parse(const void *data, size_t len, struct snapshot_image *img,
		   char *err, size_t errlen)
{
	const uint8_t *p = data;
	struct snapshot_header h;
	uint32_t crc, want;
	size_t off;
	uint32_t ver, size;

	memset(img, 0, sizeof(*img));
	if (len < sizeof(h) + sizeof(crc))
		return snap_bad(err, errlen, "truncated (%zu bytes)", len);
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, SNAPSHOT_MAGIC, 8))
		return snap_bad(err, errlen, "not a vmon snapshot (bad magic)");
	if (h.version != SNAPSHOT_VERSION)
		return snap_bad(err, errlen, "format version %u, this vmon reads %u", h.version,
				SNAPSHOT_VERSION);
	if (h.length != len)
		return snap_bad(err, errlen, "truncated or extended: %zu bytes, header says %llu",
				len, (unsigned long long)h.length);
	memcpy(&want, p + len - sizeof(crc), sizeof(crc));
	crc = (uint32_t)crc32(0, p, (uInt)(len - sizeof(crc)));
	if (crc != want)
		return snap_bad(err, errlen, "checksum mismatch (corrupt)");
	off = sizeof(h);
	for (uint32_t i = 0; i < h.nsections; i++) {
		struct snapshot_section_header s;
		if (len - sizeof(crc) - off < sizeof(s))
			return snap_bad(err, errlen, "section %u: truncated header", i);
		memcpy(&s, p + off, sizeof(s));
		if (!snap_terminated(s.name, sizeof(s.name)))
			return snap_bad(err, errlen, "section %u: bad name", i);
		off += sizeof(s);
		if (len - sizeof(crc) - off < snap_pad(s.size))
			return snap_bad(err, errlen, "section %s: longer than the file", s.name);
		off += snap_pad(s.size);
	}
	if (off != len - sizeof(crc))
		return snap_bad(err, errlen, "bytes after the last section");
	img->data = p;
	img->len = len;
	img->nsections = h.nsections;
	img->cfg = snapshot_find(img, "config", 0, &ver, &size);
	if (!img->cfg || ver != 1 || size != sizeof(struct snapshot_config))
		return snap_bad(err, errlen, "no configuration section of the right size");
	if (((uintptr_t)img->cfg & 7))
		return snap_bad(err, errlen, "misaligned buffer");
	return snap_check_config(img->cfg, err, errlen);
}

const void *snapshot_find(const struct snapshot_image *img, const char *name,
			  uint32_t instance, uint32_t *version, uint32_t *size)
{
	size_t off = sizeof(struct snapshot_header);

	for (uint32_t i = 0; i < img->nsections; i++) {
		struct snapshot_section_header s;
		memcpy(&s, img->data + off, sizeof(s));
		off += sizeof(s);
		if (!strcmp(s.name, name) && s.instance == instance) {
			*version = s.version;
			*size = s.size;
			return img->data + off;
		}
		off += snap_pad(s.size);
	}
	return NULL;
}

/* ---- Saving a machine ---- */

/* The instance number of device i among those with the same section. */
static uint32_t snap_instance(const struct machine *m, unsigned i)
{
	uint32_t n = 0;

	for (unsigned k = 0; k < i; k++)
		if (m->devices[k].section && !strcmp(m->devices[k].section->name,
						      m->devices[i].section->name))
			n++;
	return n;
}

static void snap_config(const struct machine *m, struct snapshot_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_size = m->mem.size;
	c->ncpus = m->ncpus;
	c->ndisks = m->cfg.ndisks;
	c->nnets = m->cfg.nnets;
	c->rng = m->cfg.rng;
	snprintf(c->accel, sizeof(c->accel), "%s", m->accel->name);
	if (m->cfg.vconsole)
		snprintf(c->vconsole, sizeof(c->vconsole), "%s", m->cfg.vconsole);
	for (unsigned i = 0; i < c->ndisks; i++) {
		struct stat st;
		c->disks[i] = m->cfg.disks[i];
		if (!stat(c->disks[i].path, &st))
			c->disk_size[i] = (uint64_t)st.st_size;
	}
	for (unsigned i = 0; i < c->nnets; i++)
		c->nets[i] = m->cfg.nets[i];
}

static int snap_build(struct machine *m, struct snapshot_buf *b)
{
	static struct snapshot_config cfg;
	static struct cpu_state cs;
	static struct vm_state vs;
	int r;

	snapshot_buf_init(b);
	snap_config(m, &cfg);
	snapshot_buf_add(b, "config", 0, 1, &cfg, sizeof(cfg));
	if ((r = m->accel->vm_get_state(m->vm, &vs)))
		return r;
	snapshot_buf_add(b, "vm", 0, SNAPSHOT_VM_VERSION, &vs, sizeof(vs));
	for (unsigned i = 0; i < m->ncpus; i++) {
		if ((r = m->accel->vcpu_get_state(m->vcpus[i].acc, &cs)))
			return r;
		snapshot_buf_add(b, "cpu", i, SNAPSHOT_CPU_VERSION, &cs, sizeof(cs));
	}
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct machine_section *s = m->devices[i].section;
		if (!s)
			continue;
		void *buf = calloc(1, s->size ? s->size : 1);
		if (!buf)
			return -ENOMEM;
		r = s->save(m->devices[i].state, buf);
		if (!r)
			snapshot_buf_add(b, s->name, snap_instance(m, i), s->version, buf, s->size);
		free(buf);
		if (r)
			return r;
	}
	return snapshot_buf_finish(b);
}

static int snap_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static bool snap_zero(const uint8_t *p, size_t n)
{
	static const uint8_t z[SNAP_PAGE];

	return !memcmp(p, z, n);
}

/* Guest RAM, zero pages as holes. */
static int snap_write_memory(int fd, const struct gmem *mem)
{
	for (uint64_t off = 0; off < mem->size; off += SNAP_PAGE) {
		size_t n = mem->size - off < SNAP_PAGE ? mem->size - off : SNAP_PAGE;
		if (snap_zero(mem->host + off, n))
			continue;
		if (lseek(fd, (off_t)off, SEEK_SET) < 0)
			return -errno;
		int r = snap_write_all(fd, mem->host + off, n);
		if (r)
			return r;
	}
	return ftruncate(fd, (off_t)mem->size) ? -errno : 0;
}

static int snap_write_file(const char *tmp, const void *data, size_t len,
			   const struct gmem *mem)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = mem ? snap_write_memory(fd, mem) : snap_write_all(fd, data, len);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	return r;
}

int snapshot_save(struct machine *m, const char *dir)
{
	struct snapshot_buf b;
	char st_tmp[4200], mem_tmp[4200], st[4200], mem[4200];
	int r, dfd;

	if (snprintf(st, sizeof(st), "%s/state", dir) >= (int)sizeof(st))
		return -ENAMETOOLONG;
	snprintf(mem, sizeof(mem), "%s/memory", dir);
	snprintf(st_tmp, sizeof(st_tmp), "%s/.state.tmp", dir);
	snprintf(mem_tmp, sizeof(mem_tmp), "%s/.memory.tmp", dir);
	if ((r = snap_build(m, &b)))
		goto out;
	if ((r = snap_write_file(mem_tmp, NULL, 0, &m->mem)) ||
	    (r = snap_write_file(st_tmp, b.data, b.len, NULL)))
		goto out;
	/* Memory first: a state file is only ever next to its memory. */
	if (rename(mem_tmp, mem) || rename(st_tmp, st)) {
		r = -errno;
		goto out;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (r) {
		unlink(st_tmp);
		unlink(mem_tmp);
	}
	snapshot_buf_free(&b);
	return r;
}

/* ---- Loading into a machine ---- */

int snapshot_load(struct machine *m, const struct snapshot_image *img, char *err, size_t errlen)
{
	static struct vm_state vs;
	uint32_t ver, size, used = 2;
	const void *p;
	int r;

	/* The interrupt controllers and the clock first: devices may raise
	 * lines as they load, the vCPUs' TSC and kvmclock build on the clock. */
	if (!(p = snapshot_find(img, "vm", 0, &ver, &size)) || ver != SNAPSHOT_VM_VERSION ||
	    size != sizeof(vs))
		return snap_bad(err, errlen, "section vm is missing or of another version or size");
	memcpy(&vs, p, sizeof(vs));
	if (vm_state_check(&vs))
		return snap_bad(err, errlen, "section vm: not a state the interrupt controllers "
				"can be in");
	if ((r = m->accel->vm_set_state(m->vm, &vs)))
		return snap_bad(err, errlen, "vm: %s refused the interrupt controllers' state: %s",
				m->accel->name, strerror(-r));

	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct machine_section *s = m->devices[i].section;
		uint32_t inst;
		if (!s)
			continue;
		inst = snap_instance(m, i);
		if (!(p = snapshot_find(img, s->name, inst, &ver, &size)))
			return snap_bad(err, errlen, "section %s %u is missing", s->name, inst);
		if (ver != s->version || size != s->size)
			return snap_bad(err, errlen, "section %s %u: version %u size %u, expected %u %u",
					s->name, inst, ver, size, s->version, s->size);
		void *copy = malloc(size ? size : 1);  /* aligned for the struct */
		if (!copy)
			return snap_bad(err, errlen, "out of memory");
		memcpy(copy, p, size);
		r = s->load(m->devices[i].state, copy);
		free(copy);
		if (r)
			return snap_bad(err, errlen, "section %s %u: not a valid state", s->name, inst);
		used++;
	}
	for (unsigned i = 0; i < m->ncpus; i++) {
		static struct cpu_state cs;
		if (!(p = snapshot_find(img, "cpu", i, &ver, &size)) || ver != SNAPSHOT_CPU_VERSION ||
		    size != sizeof(cs))
			return snap_bad(err, errlen, "section cpu %u is missing or of the wrong size", i);
		memset(&cs, 0, sizeof(cs));
		memcpy(&cs, p, size);
		if (cs.mp_state > CPU_MP_HALTED)
			return snap_bad(err, errlen, "section cpu %u: bad MP state", i);
		if ((r = m->accel->vcpu_set_state(m->vcpus[i].acc, &cs)))
			return snap_bad(err, errlen, "cpu %u: %s refused the state: %s", i,
					m->accel->name, strerror(-r));
		used++;
	}
	if (used != img->nsections)
		return snap_bad(err, errlen, "%u sections this machine does not have",
				img->nsections - used);
	return 0;
}

/* ---- The test hook ---- */

void snapshot_test_env(struct machine *m)
{
	const char *e = getenv("VMON_TEST_SNAPSHOT");
	char *end;

	if (!e)
		return;
	unsigned long long n = strtoull(e, &end, 10);
	if (*end != ':' || !n || !end[1]) {
		log_error("VMON_TEST_SNAPSHOT=%s: expected N:DIR", e);
		return;
	}
	m->snap_after = n;
	m->snap_dir = end + 1;
}

void snapshot_test_hook(struct machine_vcpu *v)
{
	struct machine *m = v->m;
	struct vcpu_exit e;
	int r;

	if (m->ncpus != 1) {
		log_error("VMON_TEST_SNAPSHOT: needs one vCPU");
		machine_request_exit(m, VMON_EXIT_HOST);
		return;
	}
	/* Let the accelerator finish the port write (KVM completes it in
	 * the next KVM_RUN): kicked first, that run returns at once. */
	m->accel->vcpu_kick(v->acc);
	if ((r = m->accel->vcpu_run(v->acc, &e)) || e.reason != VCPU_EXIT_NONE) {
		log_error("VMON_TEST_SNAPSHOT: the vCPU did not stop (exit %d)", (int)e.reason);
		machine_request_exit(m, VMON_EXIT_HOST);
		return;
	}
	if ((r = snapshot_save(m, m->snap_dir))) {
		log_error("snapshot to %s: %s", m->snap_dir, strerror(-r));
		machine_request_exit(m, VMON_EXIT_HOST);
		return;
	}
	log_info("snapshot saved to %s after %llu serial writes", m->snap_dir,
		 (unsigned long long)m->snap_after);
	machine_request_exit(m, VMON_EXIT_POWEROFF);
}

/* ---- For live migration (src/migrate/): the same state image ---- */

int snapshot_build(struct machine *m, struct snapshot_buf *b)
{
	return snap_build(m, b);
}

void snapshot_config_fill(const struct machine *m, struct snapshot_config *c)
{
	snap_config(m, c);
}

int snapshot_check_config(const struct snapshot_config *c, char *err, size_t errlen)
{
	return snap_check_config(c, err, errlen);
}
