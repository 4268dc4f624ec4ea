package rdb

import (
	"encoding/binary"
	"hash/crc64"
)

// crcTables are the engine's CRC-64 (Jones polynomial, reflected) tables for
// slicing by 8: hash/crc64 only slices its own polynomials, and DUMP
// payloads are mostly too short for it to bother, which made the CRC the
// largest cost of a restore.
var crcTables = func() *[8]crc64.Table {
	var t [8]crc64.Table
	t[0] = *crc64.MakeTable(0x95ac9329ac4bc9b5)
	for j := range 256 {
		crc := t[0][j]
		for i := 1; i < 8; i++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[i][j] = crc
		}
	}
	return &t
}()

// CRC64 is the engine's CRC-64 of b (no initial or final inversion).
func CRC64(b []byte) uint64 {
	t := crcTables
	var crc uint64
	for ; len(b) >= 8; b = b[8:] {
		crc ^= binary.LittleEndian.Uint64(b)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
	}
	for _, c := range b {
		crc = t[0][byte(crc)^c] ^ crc>>8
	}
	return crc
}

// DumpPayload turns a key's serialized value (Key.Payload) or a function
// library (Options.OnFunction) into what DUMP and FUNCTION DUMP return and
// RESTORE and FUNCTION RESTORE take: the value, the RDB version (2 bytes,
// little endian) and the CRC-64 of both (8 bytes, little endian). buf is
// reused when it is large enough.
func DumpPayload(buf, value []byte, version int) []byte {
	buf = append(buf[:0], value...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(version))
	return binary.LittleEndian.AppendUint64(buf, CRC64(buf))
}
