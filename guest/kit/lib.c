/* The kit's C library: memory and string helpers, the polled COM1 console,
 * printf-lite, exit through isa-debug-exit, and kit_start, which entry.S
 * calls in long mode. */
#include <stdarg.h>

#include "lib.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4


void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* no interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0x07);   /* FIFO on, cleared */
}

/* Two CPUs may print; the lock keeps lines whole. */
static volatile int serial_lock;

static void serial_out(char c)
{
	/* Bounded: a transmitter that never empties must not hang us. */
	for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		pause();
	outb(COM1, (uint8_t)c);
}

int putchar(int c)
{
	serial_out((char)c);
	return (unsigned char)c;
}

static void lock(void)
{
	while (__atomic_exchange_n(&serial_lock, 1, __ATOMIC_ACQUIRE))
		pause();
}

static void unlock(void)
{
	__atomic_store_n(&serial_lock, 0, __ATOMIC_RELEASE);
}

int puts(const char *s)
{
	lock();
	while (*s)
		serial_out(*s++);
	serial_out('\n');
	unlock();
	return 0;
}

static void put_num(uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg && pad == '0')
		serial_out('-');
	for (int w = n + (neg ? 1 : 0); w < width; w++)
		serial_out(pad);
	if (neg && pad != '0')
		serial_out('-');
	while (n)
		serial_out(buf[--n]);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lock();
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			serial_out(*p);
			continue;
		}
		p++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*p == '0')
			pad = '0', p++;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		while (*p == 'l')
			longs++, p++;
		switch (*p) {
		case 'd': {
			int64_t v = longs ? va_arg(ap, long) : va_arg(ap, int);
			put_num(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			put_num(longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, false, width, pad);
			break;
		case 'x':
			put_num(longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, false, width, pad);
			break;
		case 'p':
			serial_out('0');
			serial_out('x');
			put_num((uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case 'c':
			serial_out((char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			for (int w = (int)strlen(s); w < width; w++)
				serial_out(' ');
			while (*s)
				serial_out(*s++);
			break;
		}
		case '%':
			serial_out('%');
			break;
		case '\0':
			p--;
			break;
		default:
			serial_out('%');
			serial_out(*p);
		}
	}
	unlock();
	va_end(ap);
	return 0;
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void exit(int v)
{
	outb(DEBUG_EXIT_PORT, (uint8_t)v);
	/* No debug-exit device: say so, and end anyway with a status that
	 * cannot be mistaken for a debug-exit one (odd). */
	printf("kit: isa-debug-exit did not stop the machine\n");
	acpi_poweroff();
	halt_forever();
}

#define PVH_MAGIC 0x336ec578

const char *boot_cmdline(void)
{
	uint64_t a = 0;
	if (boot_proto == BOOT_PVH && *(uint32_t *)boot_info == PVH_MAGIC)
		a = *(uint64_t *)(boot_info + 24);            /* cmdline_paddr */
	else if (boot_proto == BOOT_MULTIBOOT && *(uint32_t *)boot_info & 4)
		a = *(uint32_t *)(boot_info + 16);            /* cmdline */
	return a && a < 0x100000000ULL ? (const char *)a : "";
}

uint64_t boot_param(const char *name, uint64_t def)
{
	size_t n = strlen(name);
	for (const char *p = boot_cmdline(); *p; p++) {
		if ((p != boot_cmdline() && p[-1] != ' ') || memcmp(p, name, n) || p[n] != '=')
			continue;
		p += n + 1;
		if (*p < '0' || *p > '9')
			return def;
		uint64_t v = 0;
		while (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p++ - '0');
		return v;
	}
	return def;
}

void kit_start(void)
{
	serial_init();
	idt_init();
	pic_disable();   /* firmware may leave IRQ 0 on, at vector 8 */
	acpi_init();
	exit(main());
}
