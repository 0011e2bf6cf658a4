package demogen

import (
	"math/rand/v2"
	"strconv"
)

// Types of a business-data field, as the spec language names them.
const (
	typeText    = "text"
	typeNumber  = "number"
	typeBoolean = "boolean"
)

// genKind says how a field's values are made.
type genKind uint8

const (
	genDigits  genKind = iota // prefix followed by n random digits: IDs
	genEnum                   // one of a fixed list (some need CSV quoting, some are unicode)
	genDecimal                // a decimal with two places in [lo, hi)
	genInt                    // an integer in [lo, hi)
	genBool                   // "true" with probability pct/100
)

// bdField is one business-data field the generator knows.
type bdField struct {
	name   string
	typ    string
	kind   genKind
	prefix string
	digits int
	suffix string
	enum   []string
	csv    [][]byte // enum, CSV-encoded once rather than per value
	lo, hi int64    // genDecimal (in cents) and genInt bounds; genBool: hi = percent true
}

// invalidNumbers are what a careless Engage integration stores in a number
// field; "12,50" also exercises CSV quoting. They make on_error matter.
var invalidNumbers = []string{"n/a", "12,50", "unknown", "N/A"}

var invalidNumbersCSV = encodeCSV(invalidNumbers)

func encodeCSV(vals []string) [][]byte {
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = appendCSV(nil, v)
	}
	return out
}

// invalidNumberPerMille is how often a number value is invalid.
const invalidNumberPerMille = 5

var (
	textFields = []bdField{
		{name: "CustomerID", kind: genDigits, prefix: "CU", digits: 7},
		{name: "AccountNumber", kind: genDigits, digits: 8},
		{name: "OrderID", kind: genDigits, prefix: "ORD-", digits: 8},
		{name: "CaseNumber", kind: genDigits, prefix: "CS", digits: 8},
		{name: "Region", kind: genEnum, enum: []string{"North", "South", "East", "West", "Central", "Île-de-France", "Bayern"}},
		{name: "Language", kind: genEnum, enum: []string{"en-GB", "en-US", "de-DE", "fr-FR", "es-ES", "nl-NL", "pl-PL", "zh-CN"}},
		{name: "Product", kind: genEnum, enum: []string{"Broadband 500", "Fibre 1G", "Mobile Unlimited", "TV Premium", "Home Phone", `Bundle "Family", 3 lines`, "Router, rented"}},
		{name: "Campaign", kind: genEnum, enum: []string{"Winter Sale", "Spring 2026", "Retention Q4", "Black Friday", "Loyalty"}},
		{name: "CustomerName", kind: genEnum, enum: []string{"Müller, Zoë", "García, José", "Nowak, Łukasz", "王伟", "Smith, John", `O'Brien, Siobhán`, "Jensen, Søren", `Dubois, "Chloé"`}},
		{name: "Country", kind: genEnum, enum: []string{"GB", "DE", "FR", "ES", "NL", "PL", "CN", "US"}},
		{name: "Channel", kind: genEnum, enum: []string{"phone", "web", "app", "store", "chat"}},
		{name: "Queue", kind: genEnum, enum: []string{"Q_Billing", "Q_Sales", "Q_Support", "Q_Retention", "Q_Collections"}},
		{name: "Segment", kind: genEnum, enum: []string{"Consumer", "SMB", "Enterprise", "Public Sector"}},
		{name: "Tier", kind: genEnum, enum: []string{"gold", "silver", "bronze", "standard"}},
		{name: "ContractID", kind: genDigits, prefix: "CT", digits: 8},
		{name: "InvoiceNumber", kind: genDigits, prefix: "INV", digits: 6},
		{name: "PolicyNumber", kind: genDigits, prefix: "POL", digits: 8},
		{name: "TicketID", kind: genDigits, prefix: "TCK-", digits: 7},
		{name: "Reason", kind: genEnum, enum: []string{"Billing query", "Technical fault", "Move home", "Cancel", "Upgrade", "Complaint"}},
		{name: "Outcome", kind: genEnum, enum: []string{"Resolved", "Escalated", "Callback", "Transferred", "Sale"}},
		{name: "Disposition", kind: genEnum, enum: []string{"DISP-01", "DISP-02", "DISP-07", "DISP-12"}},
		{name: "City", kind: genEnum, enum: []string{"London", "Manchester", "München", "Kraków", "Paris", "São Paulo", "北京", "Amsterdam"}},
		{name: "CustomerEmail", kind: genDigits, prefix: "c", digits: 5, suffix: "@mail.example"},
		{name: "Store", kind: genDigits, prefix: "ST", digits: 4},
		{name: "Subscription", kind: genDigits, prefix: "SUB-", digits: 8},
		{name: "Plan", kind: genEnum, enum: []string{"Basic", "Plus", "Premium", "Business Pro"}},
		{name: "Device", kind: genEnum, enum: []string{"iPhone 17", "Galaxy S26", "Pixel 11", "Router X200", "Set-top box"}},
		{name: "Promotion", kind: genEnum, enum: []string{"NONE", "PROMO10", "PROMO25", "FREEMONTH"}},
		{name: "Partner", kind: genEnum, enum: []string{"Direct", "Reseller A", "Reseller B", "Affiliate"}},
		{name: "Department", kind: genEnum, enum: []string{"Care", "Sales", "Tech", "Finance"}},
		{name: "Note", kind: genEnum, enum: []string{"", "No note", `Customer said "call me back", after 5pm`, "Line 1\nLine 2", "Prefers email, not phone", "Zoë asked for a refund"}},
		{name: "Priority", kind: genEnum, enum: []string{"P1", "P2", "P3", "P4"}},
		{name: "Reference", kind: genDigits, prefix: "R", digits: 8},
		{name: "Postcode", kind: genDigits, prefix: "PC", digits: 5},
		{name: "Brand", kind: genEnum, enum: []string{"Acme", "Acme Mobile", "Acme TV"}},
	}
	numberFields = []bdField{
		{name: "OrderTotal", kind: genDecimal, lo: 0, hi: 250000},
		{name: "Balance", kind: genDecimal, lo: -50000, hi: 150000},
		{name: "Score", kind: genInt, lo: 0, hi: 101},
		{name: "HoldSeconds", kind: genInt, lo: 0, hi: 900},
		{name: "Transfers", kind: genInt, lo: 0, hi: 4},
		{name: "ItemCount", kind: genInt, lo: 1, hi: 12},
		{name: "CreditLimit", kind: genInt, lo: 500, hi: 20000},
		{name: "NPS", kind: genInt, lo: 0, hi: 11},
		{name: "TenureMonths", kind: genInt, lo: 0, hi: 240},
		{name: "Discount", kind: genDecimal, lo: 0, hi: 5000},
	}
	booleanFields = []bdField{
		{name: "VIP", kind: genBool, hi: 8},
		{name: "Consent", kind: genBool, hi: 85},
		{name: "Escalated", kind: genBool, hi: 12},
		{name: "FirstContact", kind: genBool, hi: 70},
		{name: "Callback", kind: genBool, hi: 20},
	}
)

// fieldPattern is the order types are taken in, repeated: 7 text, 2 number
// and 1 boolean per 10, so that the first 8 fields already hold every type
// (5 text, 2 number, 1 boolean) and all 50 are 35, 10 and 5.
const fieldPattern = "TTNBTTNTTT"

// allFields is the ordered list of the 50 fields.
var allFields = func() []bdField {
	out := make([]bdField, 0, len(textFields)+len(numberFields)+len(booleanFields))
	var t, n, b int
	for i := range textFields {
		textFields[i].csv = encodeCSV(textFields[i].enum)
	}
	for len(out) < cap(out) {
		for _, c := range fieldPattern {
			switch c {
			case 'T':
				f := textFields[t]
				f.typ = typeText
				out = append(out, f)
				t++
			case 'N':
				f := numberFields[n]
				f.typ = typeNumber
				out = append(out, f)
				n++
			case 'B':
				f := booleanFields[b]
				f.typ = typeBoolean
				out = append(out, f)
				b++
			}
		}
	}
	return out
}()

// MaxBDFields is the number of business-data fields the generator knows:
// the seed's limit of 35 text, 10 number and 5 boolean fields.
const MaxBDFields = 50

// fieldsFor returns the first k fields of the ordered list (k clamped to 0..50).
func fieldsFor(k int) []bdField {
	k = min(max(k, 0), len(allFields))
	return allFields[:k]
}

// FieldNames returns the business-data names used for k fields, split by
// type. They are the first k of an ordered list of 35 text, 10 number and 5
// boolean names, interleaved in the pattern text, text, number, boolean,
// text, text, number, text, text, text (repeated), so k=8 gives 5 text,
// 2 number and 1 boolean name. k is clamped to 0..50.
func FieldNames(k int) (text, number, boolean []string) {
	for _, f := range fieldsFor(k) {
		switch f.typ {
		case typeText:
			text = append(text, f.name)
		case typeNumber:
			number = append(number, f.name)
		case typeBoolean:
			boolean = append(boolean, f.name)
		}
	}
	return text, number, boolean
}

// appendValue appends one CSV-ready value of f.
func (f *bdField) appendValue(dst []byte, r *rand.Rand) []byte {
	switch f.kind {
	case genDigits:
		dst = append(dst, f.prefix...)
		dst = appendDigits(dst, r, f.digits)
		return append(dst, f.suffix...)
	case genEnum:
		return append(dst, f.csv[r.IntN(len(f.csv))]...)
	case genDecimal:
		if r.IntN(1000) < invalidNumberPerMille {
			return append(dst, invalidNumbersCSV[r.IntN(len(invalidNumbersCSV))]...)
		}
		c := f.lo + r.Int64N(f.hi-f.lo)
		if c < 0 {
			dst = append(dst, '-')
			c = -c
		}
		dst = strconv.AppendInt(dst, c/100, 10)
		dst = append(dst, '.', byte('0'+c%100/10), byte('0'+c%10))
		return dst
	case genInt:
		if r.IntN(1000) < invalidNumberPerMille {
			return append(dst, invalidNumbersCSV[r.IntN(len(invalidNumbersCSV))]...)
		}
		return strconv.AppendInt(dst, f.lo+r.Int64N(f.hi-f.lo), 10)
	case genBool:
		if r.Int64N(100) < f.hi {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	}
	return dst
}

// appendDigits appends n random decimal digits (n ≤ 19 per draw, any n).
func appendDigits(dst []byte, r *rand.Rand, n int) []byte {
	for n > 0 {
		m := min(n, 19)
		v := r.Uint64()
		var tmp [19]byte
		for i := range m {
			tmp[i] = byte('0' + v%10)
			v /= 10
		}
		dst = append(dst, tmp[:m]...)
		n -= m
	}
	return dst
}
