package pgvectorstore

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// vectorCodec moves []float32 to and from pgvector's `vector` type. The
// binary format (int16 dimension, int16 zero, big-endian float32s) is what
// pgvector's vector_send/vector_recv speak: it costs no float formatting or
// parsing on either side. The text format ('[1,2,3]') is kept for
// measurement and for servers that ask for it.
type vectorCodec struct {
	text bool // prefer the text format; only the benchmark sets it
}

func (c vectorCodec) FormatSupported(f int16) bool {
	return f == pgtype.BinaryFormatCode || f == pgtype.TextFormatCode
}

func (c vectorCodec) PreferredFormat() int16 {
	if c.text {
		return pgtype.TextFormatCode
	}
	return pgtype.BinaryFormatCode
}

func (c vectorCodec) PlanEncode(_ *pgtype.Map, _ uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.([]float32); !ok {
		return nil
	}
	if format == pgtype.TextFormatCode {
		return encodeText{}
	}
	return encodeBinary{}
}

type encodeBinary struct{}

func (encodeBinary) Encode(value any, buf []byte) ([]byte, error) {
	v := value.([]float32)
	if v == nil {
		return nil, nil
	}
	return appendBinary(buf, v)
}

func appendBinary(buf []byte, v []float32) ([]byte, error) {
	if len(v) > math.MaxInt16 {
		return nil, fmt.Errorf("vector has %d dimensions, more than pgvector accepts", len(v))
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(v)))
	buf = binary.BigEndian.AppendUint16(buf, 0)
	for _, f := range v {
		buf = binary.BigEndian.AppendUint32(buf, math.Float32bits(f))
	}
	return buf, nil
}

type encodeText struct{}

func (encodeText) Encode(value any, buf []byte) ([]byte, error) {
	v := value.([]float32)
	if v == nil {
		return nil, nil
	}
	return appendText(buf, v), nil
}

func appendText(buf []byte, v []float32) []byte {
	buf = append(buf, '[')
	for i, f := range v {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendFloat(buf, float64(f), 'g', -1, 32)
	}
	return append(buf, ']')
}

func (c vectorCodec) PlanScan(_ *pgtype.Map, _ uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*[]float32); !ok {
		return nil
	}
	return scanPlan{format: format}
}

type scanPlan struct{ format int16 }

func (p scanPlan) Scan(src []byte, target any) error {
	dst := target.(*[]float32)
	if src == nil {
		*dst = nil
		return nil
	}
	var err error
	if p.format == pgtype.TextFormatCode {
		*dst, err = parseText(string(src))
	} else {
		*dst, err = parseBinary(src)
	}
	return err
}

// parseBinary decodes pgvector's binary format, rejecting anything that is
// not exactly one well-formed vector.
func parseBinary(src []byte) ([]float32, error) {
	if len(src) < 4 {
		return nil, errors.New("decode vector: short header")
	}
	dim := int(binary.BigEndian.Uint16(src))
	if unused := binary.BigEndian.Uint16(src[2:]); unused != 0 {
		return nil, fmt.Errorf("decode vector: unexpected flags %d", unused)
	}
	if len(src) != 4+4*dim {
		return nil, fmt.Errorf("decode vector: %d bytes for %d dimensions", len(src), dim)
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.BigEndian.Uint32(src[4+4*i:]))
	}
	return v, nil
}

// parseText decodes pgvector's text format '[1,2.5,-3e-05]'.
func parseText(s string) ([]float32, error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "[")
	if ok {
		inner, ok = strings.CutSuffix(inner, "]")
	}
	if !ok {
		return nil, fmt.Errorf("decode vector %.20q: not in brackets", s)
	}
	if strings.TrimSpace(inner) == "" {
		return []float32{}, nil
	}
	parts := strings.Split(inner, ",")
	v := make([]float32, len(parts))
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("decode vector element %d: %w", i, err)
		}
		v[i] = float32(f)
	}
	return v, nil
}

func (c vectorCodec) DecodeDatabaseSQLValue(m *pgtype.Map, oid uint32, format int16, src []byte) (driver.Value, error) {
	if src == nil {
		return nil, nil
	}
	v, err := c.DecodeValue(m, oid, format, src)
	if err != nil {
		return nil, err
	}
	return string(appendText(nil, v.([]float32))), nil
}

func (c vectorCodec) DecodeValue(_ *pgtype.Map, _ uint32, format int16, src []byte) (any, error) {
	if src == nil {
		return nil, nil
	}
	if format == pgtype.TextFormatCode {
		return parseText(string(src))
	}
	return parseBinary(src)
}
