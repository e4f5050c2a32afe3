/* Where the AP trampoline runs: below 1 MiB, page aligned, clear of the
 * loaders' boot data (0x7000-0xffff) and of the command line (0x20000). */
#ifndef GUEST_KIT_TRAMPOLINE_H
#define GUEST_KIT_TRAMPOLINE_H
#define TRAMP_BASE 0x10000
#endif
