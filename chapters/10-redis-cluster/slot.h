/*
 * slot.h - which of Redis Cluster's 16384 hash slots a key belongs to.
 *
 * Every node of a cluster computes the same function, and so must every
 * client: a client that computes another slot than Redis sends the key to
 * the wrong node and is told MOVED, every time.
 *
 *     slot = CRC16(key) mod 16384
 *
 * except when the key has a hash tag: if it contains a '{', followed
 * later by a '}' with at least one byte between them, only the bytes
 * between the FIRST '{' and the first '}' after it are hashed.  So
 * "{user1}:name" and "{user1}:cart" hash "user1" and share one slot, which
 * is what lets a multi-key command (MSET, a transaction) use both.
 */
#ifndef SLOT_H
#define SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

/* CRC16-XMODEM (polynomial 0x1021, initial value 0), the variant Redis
 * uses: CRC16 of "123456789" is 0x31c3. */
uint16_t slot_crc16(const void *bytes, size_t len);

/* The slot of key[0..key_len), hash tag included; 0 .. SLOT_COUNT-1. */
unsigned key_slot(const void *key, size_t key_len);

#endif
