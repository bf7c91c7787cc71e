/*
 * slot.c - a key's hash slot, computed the way Redis does (see slot.h).
 */
#include "slot.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

uint16_t slot_crc16(const void *bytes, size_t len)
{
    /* Bit by bit, most significant bit first: eight shifts per byte.  Redis
     * uses a 256-entry table to do a byte per step; the result is the same. */
    const unsigned char *b = bytes;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(b[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned key_slot(const void *key, size_t key_len)
{
    // TODO(10): the slot of the key, as Redis computes it: CRC16 of the
    // key modulo SLOT_COUNT - or, when the key has a hash tag (a '{',
    // then a '}' later with at least one byte between), CRC16 of the
    // bytes between the first '{' and the first '}' after it.  Use
    // memchr, not strchr (keys may hold NUL bytes), and slot_crc16.
    // Read docs/10-redis-cluster.md, "Hash slots".  For now every key
    // gets slot 0, and every command goes to the master of slot 0.
    static atomic_flag told = ATOMIC_FLAG_INIT;
    if (!atomic_flag_test_and_set(&told))
        fprintf(stderr, "not implemented yet: key_slot (TODO(10) in "
                        "chapters/10-redis-cluster/slot.c); every key gets slot 0\n");
    (void)key;
    (void)key_len;
    return 0;
}
