package main

import "strings"

// helpTopics is the usage of every command and subcommand, by its path.
// `sessionmanager PATH -h` (or -help, --help) prints it on stdout and exits 0,
// before any flag is parsed, the environment read or a store opened.
var helpTopics = map[string]string{
	"serve": `Usage: sessionmanager serve [-addr HOST:PORT] [-database-url URL] [-data-dir DIR] [-redis-url URL]

Runs the service (the default command). Configuration comes from the
environment (see README.md); the flags override:
  -addr HOST:PORT      listen address (SM_ADDR)
  -database-url URL    sqlite:PATH or postgres://... (DATABASE_URL)
  -data-dir DIR        where the SQLite database and caches live (SM_DATA_DIR)
  -redis-url URL       Redis for the bus and shared limits (REDIS_URL): redis://host:6379/0,
                       a cluster as redis://a:7000,redis://b:7000 or Sentinel as
                       redis-sentinel://s1:26379,s2:26379/mastername (docs/CLUSTER.md)
`,
	"demo": `Usage: sessionmanager demo [-addr HOST:PORT]

Runs the service on a fresh store of demo users and sessions from around the
world, with simulated logins that keep coming and every feature unlocked.
Sign in to the dashboard as demo@localhost with the password it prints.
  -addr HOST:PORT      listen address (SM_ADDR)
`,
	"migrate": `Usage: sessionmanager migrate

Applies the database migrations of the configured store (DATABASE_URL or
SM_DATA_DIR) and exits.
`,
	"generate": `Usage: sessionmanager generate [-sessions N] [-seed S] [-now TIME]

Fills the configured store (DATABASE_URL or SM_DATA_DIR), which must hold no
users or sessions yet, with generated data for load and scale tests: N
sessions of N/10 users (user0@example.com ...), logins over the 30 days
before TIME, a tenth active, a tenth inactive, the rest ended. PostgreSQL
loads by COPY, SQLite by batched INSERTs; see docs/SCALE.md.
  -sessions N    how many sessions (default 1000000)
  -seed S        the random seed: the same seed gives the same data (default 1)
  -now TIME      the newest login, RFC 3339 (default: now)
`,
	"keygen": `Usage: sessionmanager keygen

Prints a fresh random SESSION_ENCRYPTION_KEY.
`,
	"admin": `Usage: sessionmanager admin COMMAND [flags]

Commands:
  create --email E [--password P]                     create an admin account
  create-token --name NAME --scope read|write|service create an admin API token
  totp --email E                                      enable two-factor sign-in for an admin

Run ` + "`sessionmanager admin COMMAND -h`" + ` for a command's flags.
`,
	"admin create": `Usage: sessionmanager admin create --email E [--password P]

Creates an admin account for the dashboard.
  --email E       the admin's email (required)
  --password P    the password; asked on the terminal (or read from stdin) when empty
`,
	"admin create-token": `Usage: sessionmanager admin create-token --name NAME --scope read|write|service

Creates an admin API token and prints it once on stdout.
  --name NAME     a name for the token
  --scope S       read, write or service (default read)
`,
	"admin totp": `Usage: sessionmanager admin totp --email E

Enables two-factor sign-in for an admin: prints an otpauth:// URL for an
authenticator app and ends the admin's dashboard sign-ins.
  --email E       the admin's email
`,
	"audit": `Usage: sessionmanager audit verify

Commands:
  verify    check the audit log's hash chain, signed head and checkpoints
`,
	"audit verify": `Usage: sessionmanager audit verify

Checks the audit log's hash chain, its signed head and its checkpoints (needs
SESSION_ENCRYPTION_KEY) and prints the head to keep outside the database.
`,
	"geoip": `Usage: sessionmanager geoip update [flags]

Commands:
  update    download MaxMind GeoIP databases

Run ` + "`sessionmanager geoip update -h`" + ` for its flags.
`,
	"geoip update": `Usage: sessionmanager geoip update [--account-id ID --license-key KEY] [--editions E,...] [--dir DIR] [--url URL]

Downloads MaxMind databases with an account id and licence key.
  --account-id ID     MaxMind account id (MAXMIND_ACCOUNT_ID)
  --license-key KEY   MaxMind licence key (MAXMIND_LICENSE_KEY)
  --editions E,...    comma-separated editions (default GeoLite2-City,GeoLite2-ASN)
  --dir DIR           where the .mmdb files go (default $SM_DATA_DIR/geoip)
  --url URL           download URL with an {edition} placeholder (default: MaxMind's)
`,
	"license": `Usage: sessionmanager license COMMAND [flags]

Commands:
  issue     sign a licence key (vendor)
  show      inspect a licence key and check its signature
  keygen    create a vendor signing key (vendor)

Run ` + "`sessionmanager license COMMAND -h`" + ` for a command's flags.
`,
	"license issue": `Usage: sessionmanager license issue --key FILE --licensee L --edition premium|advanced --expires 2027-01-01 [flags]

Signs a licence key with the vendor private key and prints it on stdout.
  --key FILE        vendor private key file (base64 seed or PEM PKCS#8)
  --licensee L      who the licence is for
  --edition E       free, premium or advanced
  --expires DATE    expiry: YYYY-MM-DD (00:00 UTC of that day) or RFC 3339
  --issued DATE     issue time (default now): YYYY-MM-DD or RFC 3339
  --seats N         seats (0 = unlimited; informational)
  --instances N     instances (0 = unlimited; informational)
  --id ID           licence id (default random)
`,
	"license show": `Usage: sessionmanager license show [--public-key KEY] LICENCE_KEY

Prints what a licence key grants and checks its signature.
  --public-key KEY  vendor public key (base64); default: the built-in one
`,
	"license keygen": `Usage: sessionmanager license keygen --out FILE

Writes a new vendor private key (mode 0600, never overwriting) and prints its
public key.
  --out FILE        file for the new private key (must not exist)
`,
	"version": `Usage: sessionmanager version

Prints the version.
`,
	"keys":          keysUsage,
	"keys rotate":   keysUsage,
	"keys list":     keysUsage,
	"keys withdraw": keysUsage,
	"help":          usage,
}

// helpFlag reports whether arg asks for help.
func helpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// helpRequest returns the usage to print when args (the command line
// without the program name) ask for help: a help flag anywhere before "--",
// answered with the usage of the longest command path args name, or the
// general usage.
func helpRequest(args []string) (string, bool) {
	asked := false
	for _, a := range args {
		if a == "--" {
			break
		}
		if helpFlag(a) {
			asked = true
			break
		}
	}
	if !asked {
		return "", false
	}
	text, path := usage, ""
	for _, a := range args {
		next := strings.TrimSpace(path + " " + a)
		topic, ok := helpTopics[next]
		if !ok {
			break
		}
		text, path = topic, next
	}
	return text, true
}
