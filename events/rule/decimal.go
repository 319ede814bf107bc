package rule

import (
	"encoding/json"
	"math"
	"strconv"
)

// maxScaled bounds sum contributions and targets: 1e12 units. A sum of
// 9,000 such contributions still fits in an int64.
const maxScaled = 1e12 * Scale

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseScaled reads the text of a JSON number exactly, as thousandths. It
// fails if s is not a JSON number, has a non-zero digit past the third
// decimal, or is beyond ±1e12. Exponents are fine: "1.5e2" is 150000.
func parseScaled[S ~string | ~[]byte](s S) (int64, bool) {
	i, n := 0, len(s)
	neg := n > 0 && s[0] == '-'
	if neg {
		i++
	}
	var d digits
	start := i
	for ; i < n && isDigit(s[i]); i++ {
		if !d.add(s[i]) {
			return 0, false
		}
	}
	if i == start || s[start] == '0' && i-start > 1 {
		return 0, false // JSON has no empty integer part and no leading zeros
	}
	frac := 0
	if i < n && s[i] == '.' {
		i++
		start = i
		for ; i < n && isDigit(s[i]); i++ {
			if !d.add(s[i]) {
				return 0, false
			}
		}
		if frac = i - start; frac == 0 {
			return 0, false
		}
	}
	exp := 0
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := i < n && s[i] == '-'
		if i < n && (s[i] == '-' || s[i] == '+') {
			i++
		}
		start = i
		for ; i < n && isDigit(s[i]); i++ {
			if exp < 1e6 { // far beyond any valid amount; stop before overflowing
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return 0, false
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != n {
		return 0, false
	}
	if d.mant == 0 {
		return 0, true
	}
	// The value is mant × 10^(zeros-frac+exp); in thousandths, 3 more.
	shift := d.zeros - frac + exp + 3
	if shift < 0 || shift >= len(pow10) || d.mant > maxScaled/pow10[shift] {
		return 0, false
	}
	v := int64(d.mant * pow10[shift])
	if neg {
		v = -v
	}
	return v, true
}

// digits accumulates the significant digits of a decimal. Trailing zeros
// are held back in zeros, so "1.50000000000000000000" does not overflow.
type digits struct {
	mant  uint64 // significant digits, without leading or trailing zeros
	count int    // digits in mant
	zeros int    // zeros seen since the last non-zero digit
}

// add takes the next digit; false once there are more significant digits
// than any valid amount has.
func (d *digits) add(c byte) bool {
	if c == '0' {
		if d.mant != 0 {
			d.zeros++
		}
		return true
	}
	for ; d.zeros > 0; d.zeros-- {
		d.mant *= 10
		d.count++
	}
	d.mant = d.mant*10 + uint64(c-'0')
	d.count++
	return d.count <= 18
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// FormatScaled renders an amount in thousandths as a decimal with no
// trailing zeros: 42500 is "42.5", 1 is "0.001".
func FormatScaled(v int64) string {
	u := uint64(v)
	sign := ""
	if v < 0 {
		u, sign = -u, "-"
	}
	whole := sign + strconv.FormatUint(u/Scale, 10)
	frac := u % Scale
	if frac == 0 {
		return whole
	}
	f := strconv.FormatUint(Scale+frac, 10)[1:] // zero-padded to 3 digits
	for f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	return whole + "." + f
}

// scaled converts a prop value to thousandths for a sum, exactly: the
// value's decimal text is read, never float arithmetic.
func scaled(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		// Below a thousandth a value cannot be exact, and beyond 1e12 it
		// is out of range; both checks also keep the text short.
		if math.IsNaN(x) || math.Abs(x) > 1e12 || x != 0 && math.Abs(x) < 0.001 {
			return 0, false
		}
		var buf [40]byte
		return parseScaled(strconv.AppendFloat(buf[:0], x, 'f', -1, 64))
	case json.Number:
		return parseScaled(string(x))
	case int:
		return scaledInt(int64(x))
	case int64:
		return scaledInt(x)
	}
	return 0, false
}

func scaledInt(x int64) (int64, bool) {
	if x < -1e12 || x > 1e12 {
		return 0, false
	}
	return x * Scale, true
}

// Scaled converts a prop value to thousandths exactly, as sums count it:
// false for anything that is not a number from -1e12 to 1e12 with at most
// three decimals. Earn rules read amounts with it.
func Scaled(v any) (int64, bool) { return scaled(v) }
