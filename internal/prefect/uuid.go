package prefect

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/oklog/ulid/v2"
)

// namespace is the UUID namespace of the ids perfect derives from names
// (deployments, flows, states). It is fixed: changing it changes every id.
var namespace = [16]byte{
	0x5b, 0x0e, 0x7c, 0x2a, 0x91, 0x3d, 0x4f, 0x61, 0xa4, 0x08, 0x3c, 0x6e, 0x12, 0xd9, 0x77, 0x40,
}

// NameUUID derives a stable name-based UUID (version 5) from a name, for
// example "deployment:christmas-signup-handler/christmas-signup-handler".
func NameUUID(name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return formatUUID(u)
}

// RunUUID maps a perfect run id (a ULID, 128 bits) onto a UUID with the
// same bits, so a flow run id leads back to its run without an index. ok
// is false for an id that is not a ULID.
func RunUUID(runID string) (string, bool) {
	id, err := ulid.ParseStrict(runID)
	if err != nil {
		return "", false
	}
	return formatUUID(id), true
}

// RunIDFromUUID is the inverse of RunUUID.
func RunIDFromUUID(s string) (string, error) {
	u, err := ParseUUID(s)
	if err != nil {
		return "", err
	}
	return ulid.ULID(u).String(), nil
}

// ErrBadUUID is returned for text that is not a UUID.
var ErrBadUUID = errors.New("not a valid UUID")

// ParseUUID reads a UUID in its 8-4-4-4-12 hex form (any case) or as 32
// hex digits.
func ParseUUID(s string) ([16]byte, error) {
	var u [16]byte
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return u, ErrBadUUID
	}
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return u, ErrBadUUID
	}
	return u, nil
}

// CanonicalUUID returns s in lower-case 8-4-4-4-12 form.
func CanonicalUUID(s string) (string, error) {
	u, err := ParseUUID(s)
	if err != nil {
		return "", err
	}
	return formatUUID(u), nil
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
