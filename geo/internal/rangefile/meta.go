package rangefile

import "time"

// Source is one npm package of the snapshot.
type Source struct {
	Package   string // npm package name
	Version   string // pinned version
	Integrity string // npm integrity (sha512) of the tarball
	// Ranges counts the address ranges with a known value (IPv4 + IPv6),
	// after overlapping source ranges are resolved (the most specific wins).
	Ranges int
}

// Snapshot describes a generated pair of files (the generator writes it as
// Go source next to them, so reading it decodes nothing).
type Snapshot struct {
	// Date is when the source packages were built.
	Date    time.Time
	Country Source
	ASN     Source
	// ASNs and Orgs count the distinct ASN/organisation pairs and names.
	ASNs, Orgs int
}
