package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Listen != "127.0.0.1:8080" || c.DataDir != "./ringside-data" || c.CRM.Kind != "builtin" ||
		len(c.Telephony) != 1 || c.Telephony[0].Kind != "webhook" || c.Phone.DefaultRegion != "DE" || c.Phone.MinSuffixDigits != 8 {
		t.Fatalf("defaults: %+v", c)
	}
	for _, empty := range []string{"", "# nothing\n", "---\n"} {
		c, err := Parse("ringside.yaml", []byte(empty))
		if err != nil || c.Listen != "127.0.0.1:8080" {
			t.Fatalf("%q: %v %+v", empty, err, c)
		}
	}
}

func TestParseGood(t *testing.T) {
	src := `
listen: 127.0.0.1:9090
data_dir: /var/lib/ringside
phone: {default_region: at, outside_line_prefix: "0", min_suffix_digits: 7}
lookup: {pop_timeout: 150ms, entity_priority: [lead, contact, account]}
crm: {kind: builtin}
telephony:
  - {kind: webhook}
  - {kind: webhook, name: cloud, max_body_bytes: 4096}
users:
  - {name: alice, extensions: ["200"], email: alice@example.com, admin: true}
calls: {max_age: 2h}
cluster: {nats_url: "nats://127.0.0.1:4222", lease: postgres, lease_ttl: 3s, secret_env: RINGSIDE_CLUSTER_SECRET}
`
	c, err := Parse("ringside.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9090" || c.Phone.DefaultRegion != "at" || c.Phone.MinSuffixDigits != 7 ||
		c.Lookup.PopTimeout != 150*time.Millisecond || c.Calls.MaxAge != 2*time.Hour || len(c.Users) != 1 || !c.Users[0].Admin {
		t.Fatalf("%+v", c)
	}
	if c.Cluster.NATSURL != "nats://127.0.0.1:4222" || c.Cluster.Lease != "postgres" || c.Cluster.LeaseTTL != 3*time.Second || !c.Cluster.Enabled() {
		t.Fatalf("cluster: %+v", c.Cluster)
	}
	if c.Telephony[1].Name != "cloud" || c.Telephony[0].Name != "webhook" {
		t.Fatalf("names: %q %q", c.Telephony[0].Name, c.Telephony[1].Name)
	}
	var wh struct {
		MaxBodyBytes int64 `yaml:"max_body_bytes"`
	}
	if err := c.Telephony[1].Decode(&wh); err != nil || wh.MaxBodyBytes != 4096 {
		t.Fatalf("section decode: %v %+v", err, wh)
	}
	if c.Telephony[1].Where() != "ringside.yaml:9" {
		t.Fatalf("where = %s", c.Telephony[1].Where())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "listen: x\nlisten_addr: y\n", []string{"ringside.yaml:2: listen_addr: unknown key"}},
		{"unknown nested key with hint", "phone:\n  default_regoin: DE\n", []string{`ringside.yaml:2: phone.default_regoin: unknown key (did you mean "default_region"?)`}},
		{"wrong type", "phone:\n  min_suffix_digits: many\n", []string{"ringside.yaml:2:", "many"}},
		{"bad region", "phone:\n  default_region: XX\n", []string{"ringside.yaml:2: phone.default_region:", "XX"}},
		{"bad duration", "lookup:\n  pop_timeout: soon\n", []string{"ringside.yaml:2:"}},
		{"bad log level", "log_level: loud\n", []string{"ringside.yaml:1: log_level:", "loud"}},
		{"duplicate user", "users:\n  - {name: a}\n  - {name: a}\n", []string{"ringside.yaml:3: users[1]:", "declared twice"}},
		{"two errors at once", "foo: 1\nbar: 2\n", []string{"ringside.yaml:1: foo: unknown key", "ringside.yaml:2: bar: unknown key"}},
		{"syntax", "listen: [\n", []string{"ringside.yaml:"}},
		{"telephony without kind", "telephony:\n  - {name: x}\n", []string{"ringside.yaml:2: telephony: each entry needs a kind"}},
		{"bad cluster lease", "cluster:\n  nats_url: nats://127.0.0.1:4222\n  lease: zookeeper\n  secret_env: S\n", []string{"ringside.yaml:3: cluster.lease:", "zookeeper"}},
		{"unknown key in a user", "users:\n  - {name: a, extension: '200'}\n", []string{`users[0].extension: unknown key (did you mean "extensions"?)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("ringside.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestSectionDecodeStrict(t *testing.T) {
	c, err := Parse("r.yaml", []byte("telephony:\n  - kind: ami\n    address: 127.0.0.1:5038\n    secert_env: X\n"))
	if err != nil {
		t.Fatal(err)
	}
	var ami struct {
		Address   string `yaml:"address"`
		SecretEnv string `yaml:"secret_env"`
	}
	err = c.Telephony[0].Decode(&ami)
	if err == nil || !strings.Contains(err.Error(), `r.yaml:4: telephony[0].secert_env: unknown key (did you mean "secret_env"?)`) {
		t.Fatalf("err = %v", err)
	}
}
