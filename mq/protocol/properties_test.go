package protocol

import (
	"maps"
	"reflect"
	"testing"
)

// Property texts used by the tests and as fuzz seeds.
var propertyCases = []struct {
	name string
	text string
	want map[string]string
}{
	{"empty", "", nil},
	{"go form, trailing separator", "TAGS\x01TagA\x02KEYS\x01k1 k2\x02", map[string]string{"TAGS": "TagA", "KEYS": "k1 k2"}},
	{"java form, no trailing separator", "TAGS\x01TagA\x02UNIQ_KEY\x01C0A8\x02CLUSTER\x01DefaultCluster", map[string]string{"TAGS": "TagA", "UNIQ_KEY": "C0A8", "CLUSTER": "DefaultCluster"}},
	{"empty items skipped", "\x02\x02A\x01a\x02\x02", map[string]string{"A": "a"}},
	{"item without name-value separator skipped", "junk\x02A\x01a", map[string]string{"A": "a"}},
	{"empty name skipped", "\x01v\x02A\x01a", map[string]string{"A": "a"}},
	{"empty value kept", "A\x01\x02B\x01b", map[string]string{"A": "", "B": "b"}},
	{"repeated name keeps the last value", "TAGS\x01first\x02TAGS\x01second\x02", map[string]string{"TAGS": "second"}},
	{"value holding the name-value separator", "A\x01x\x01y", map[string]string{"A": "x\x01y"}},
	{"non-ascii", "TAGS\x01标签\x02", map[string]string{"TAGS": "标签"}},
}

func TestParseProperties(t *testing.T) {
	for _, tt := range propertyCases {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseProperties(tt.text)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProperties = %q, want %q", got, tt.want)
			}
			// PropertyValue agrees with the map for every name.
			for name, want := range tt.want {
				if v := PropertyValue(tt.text, name); v != want {
					t.Errorf("PropertyValue(%q) = %q, want %q", name, v, want)
				}
			}
			if v := PropertyValue(tt.text, "ABSENT"); v != "" {
				t.Errorf("PropertyValue(ABSENT) = %q", v)
			}
		})
	}
}

func TestPropertyValueNamePrefix(t *testing.T) {
	s := "XTAGS\x01wrong\x02TAGSX\x01wrong\x02TAGS\x01right\x02"
	if got := PropertyValue(s, "TAGS"); got != "right" {
		t.Errorf("PropertyValue = %q, want %q", got, "right")
	}
	if got := PropertyValue("TAGS", "TAGS"); got != "" {
		t.Errorf("item without separator: %q", got)
	}
}

func TestMarshalProperties(t *testing.T) {
	if got := MarshalProperties(nil); got != "" {
		t.Errorf("nil map: %q", got)
	}
	got := MarshalProperties(map[string]string{"UNIQ_KEY": "u", "KEYS": "k", "TAGS": "t"})
	if want := "KEYS\x01k\x02TAGS\x01t\x02UNIQ_KEY\x01u\x02"; got != want {
		t.Errorf("MarshalProperties = %q, want %q", got, want)
	}
	for _, tt := range propertyCases {
		if back := ParseProperties(MarshalProperties(tt.want)); !maps.Equal(back, tt.want) {
			t.Errorf("%s: round trip gives %q", tt.name, back)
		}
	}
}

func TestSetProperty(t *testing.T) {
	tests := []struct {
		name, text, key, value, want string
	}{
		{"into empty", "", "TAGS", "a", "TAGS\x01a\x02"},
		{"append to go form", "A\x01a\x02", "B", "b", "A\x01a\x02B\x01b\x02"},
		{"append to java form", "A\x01a", "B", "b", "A\x01a\x02B\x01b\x02"},
		{"replace", "A\x01a\x02B\x01b\x02", "A", "z", "B\x01b\x02A\x01z\x02"},
		{"replace every copy", "A\x01a\x02A\x01b", "A", "z", "A\x01z\x02"},
		{"empty value", "A\x01a", "B", "", "A\x01a\x02B\x01\x02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SetProperty(tt.text, tt.key, tt.value)
			if got != tt.want {
				t.Errorf("SetProperty = %q, want %q", got, tt.want)
			}
			if v := ParseProperties(got)[tt.key]; v != tt.value {
				t.Errorf("parsed value %q, want %q", v, tt.value)
			}
		})
	}
}

func TestDeleteProperty(t *testing.T) {
	tests := []struct {
		name, text, key, want string
	}{
		{"absent leaves text alone", "A\x01a", "B", "A\x01a"},
		{"empty", "", "A", ""},
		{"only pair", "A\x01a\x02", "A", ""},
		{"first of two, java form", "A\x01a\x02B\x01b", "A", "B\x01b\x02"},
		{"every copy", "A\x01a\x02B\x01b\x02A\x01c\x02", "A", "B\x01b\x02"},
		{"empty value", "A\x01\x02B\x01b\x02", "A", "B\x01b\x02"},
		{"name prefix is not a match", "AB\x01x\x02A\x01a\x02", "A", "AB\x01x\x02"},
		{"name in a value is not a match", "B\x01A\x01\x02", "A", "B\x01A\x01\x02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DeleteProperty(tt.text, tt.key)
			if got != tt.want {
				t.Errorf("DeleteProperty = %q, want %q", got, tt.want)
			}
			if _, ok := ParseProperties(got)[tt.key]; ok {
				t.Errorf("%q still present", tt.key)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	if got := Keys(" k1  k2 k3 "); !reflect.DeepEqual(got, []string{"k1", "k2", "k3"}) {
		t.Errorf("Keys = %q", got)
	}
	if got := Keys(""); len(got) != 0 {
		t.Errorf("Keys(\"\") = %q", got)
	}
}
