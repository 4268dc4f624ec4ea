package rdb

import (
	"encoding/binary"
	"hash/crc64"
)

// crcTable is the engine's CRC-64 (Jones polynomial, reflected), in the
// reversed form hash/crc64 takes.
var crcTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// CRC64 is the engine's CRC-64 of b: no initial or final inversion, where
// hash/crc64 inverts both (so both are undone here).
func CRC64(b []byte) uint64 { return ^crc64.Update(^uint64(0), crcTable, b) }

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
