/* Fuzz target: the crash repair of ksnap capture (tools/ksnap/segment.c seg_good_end): the
 * bytes of a .part file in, the offset just past its last complete pcapng block out. Checks that
 * the answer never passes the end of the file and is a block boundary: the file starts with a
 * section header there, and walking the blocks from 0 (leading length = trailing length, byte
 * order from each section header) lands on it exactly. */
#include <byteswap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "../../tools/common/kf_tool.c"
#include "../../tools/ksnap/segment.c"

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? bswap_32(v) : v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("part", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) { close(fd); return 0; }
    uint64_t good = seg_good_end(fd);
    close(fd);
    if (good > size || good % 4) abort();
    if (good == 0) return 0;
    if (good < 12 || rd32(data, 0) != 0x0A0D0D0A) abort();
    uint64_t off = 0;
    int swap = 0;
    while (off < good) {
        if (good - off < 12) abort();
        if (rd32(data + off, 0) == 0x0A0D0D0A) {
            uint32_t bom = rd32(data + off + 8, 0);
            if (bom != 0x1A2B3C4D && bom != 0x4D3C2B1A) abort();
            swap = bom == 0x4D3C2B1A;
        }
        uint32_t len = rd32(data + off + 4, swap);
        if (len < 12 || len % 4 || len > good - off) abort();
        if (rd32(data + off + len - 4, swap) != len) abort();
        off += len;
    }
    if (off != good) abort();
    return 0;
}
