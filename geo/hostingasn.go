package geo

import (
	"cmp"
	"slices"
)

// ASNKind says what a known ASN is used for.
type ASNKind string

// ASN kinds of the built-in list.
const (
	// ASNHosting is a cloud, hosting or CDN network: its users are servers
	// (and VPN exits rented there), not people at home. Sets Datacenter.
	ASNHosting ASNKind = "hosting"
	// ASNVPN is a network run by a VPN operator. Sets VPN and Datacenter.
	ASNVPN ASNKind = "vpn"
)

// KnownASN is one entry of the built-in list.
type KnownASN struct {
	ASN   uint32
	Owner string
	Kind  ASNKind
}

// knownASNs lets datacenter detection work with only an ASN database. It
// lists networks whose addresses are servers, never eyeball ISPs; a network
// that mixes both (e.g. Google's AS15169, which also carries Google's own
// services) is left out on purpose. Docs: docs/GEO.md lists the same table.
var knownASNs = []KnownASN{
	// Major clouds.
	{16509, "Amazon.com, Inc. (AWS)", ASNHosting},
	{14618, "Amazon.com, Inc. (AWS us-east-1)", ASNHosting},
	{8987, "Amazon Data Services Ireland Ltd (AWS)", ASNHosting},
	{396982, "Google LLC (Google Cloud)", ASNHosting},
	{8075, "Microsoft Corporation (Azure)", ASNHosting},
	{31898, "Oracle Corporation (Oracle Cloud)", ASNHosting},
	{36351, "SoftLayer Technologies (IBM Cloud)", ASNHosting},
	{45102, "Alibaba (US) Technology Co. (Alibaba Cloud)", ASNHosting},
	{37963, "Hangzhou Alibaba Advertising Co. (Alibaba Cloud China)", ASNHosting},
	{45090, "Shenzhen Tencent Computer Systems (Tencent Cloud)", ASNHosting},
	{132203, "Tencent Building, Kejizhongyi Avenue (Tencent Cloud)", ASNHosting},
	{136907, "Huawei Clouds", ASNHosting},
	{55990, "Huawei Cloud Service data center", ASNHosting},
	{135377, "UCloud (HK) Holdings Group", ASNHosting},
	{13335, "Cloudflare, Inc. (also WARP and iCloud Private Relay egress)", ASNHosting},
	// Developer clouds and VPS hosts.
	{14061, "DigitalOcean, LLC", ASNHosting},
	{393406, "DigitalOcean, LLC", ASNHosting},
	{200130, "DigitalOcean, LLC", ASNHosting},
	{62567, "DigitalOcean, LLC", ASNHosting},
	{63949, "Akamai Connected Cloud (Linode)", ASNHosting},
	{20473, "The Constant Company, LLC (Vultr)", ASNHosting},
	{16276, "OVH SAS", ASNHosting},
	{24940, "Hetzner Online GmbH", ASNHosting},
	{213230, "Hetzner Online GmbH (Hetzner Cloud)", ASNHosting},
	{12876, "Scaleway S.A.S. (Online SAS)", ASNHosting},
	{51167, "Contabo GmbH", ASNHosting},
	{197540, "netcup GmbH", ASNHosting},
	{8560, "IONOS SE (1&1)", ASNHosting},
	{8972, "Host Europe GmbH", ASNHosting},
	{19994, "Rackspace Hosting", ASNHosting},
	{27357, "Rackspace Hosting", ASNHosting},
	{15395, "Rackspace Ltd. (UK)", ASNHosting},
	{60781, "LeaseWeb Netherlands B.V.", ASNHosting},
	{28753, "Leaseweb Deutschland GmbH", ASNHosting},
	{30633, "Leaseweb USA, Inc.", ASNHosting},
	{59253, "Leaseweb Asia Pacific pte. ltd.", ASNHosting},
	{32613, "iWeb Technologies (Leaseweb Canada)", ASNHosting},
	{49981, "WorldStream B.V.", ASNHosting},
	{54290, "Hostwinds LLC", ASNHosting},
	{36352, "ColoCrossing (HostPapa)", ASNHosting},
	{53667, "FranTech Solutions (BuyVM)", ASNHosting},
	{8100, "QuadraNet Enterprises LLC", ASNHosting},
	{46606, "Unified Layer (Bluehost)", ASNHosting},
	{26496, "GoDaddy.com, LLC", ASNHosting},
	{22612, "Namecheap, Inc.", ASNHosting},
	{47583, "Hostinger International Limited", ASNHosting},
	{19318, "Interserver, Inc.", ASNHosting},
	{29802, "HIVELOCITY, Inc.", ASNHosting},
	{55286, "B2 Net Solutions Inc. (ServerMania)", ASNHosting},
	{23470, "ReliableSite.Net LLC", ASNHosting},
	{396356, "Latitude.sh (Maxihost)", ASNHosting},
	{62240, "Clouvider Limited", ASNHosting},
	{3842, "RamNode LLC", ASNHosting},
	{14956, "RouterHosting LLC (Cloudzy)", ASNHosting},
	{63023, "GTHost", ASNHosting},
	{9370, "SAKURA Internet Inc.", ASNHosting},
	{7506, "GMO Internet, Inc.", ASNHosting},
	{20860, "Iomart Cloud Services Limited", ASNHosting},
	{13213, "UK-2 Limited (Iomart)", ASNHosting},
	{200019, "AlexHost SRL", ASNHosting},
	{210644, "AEZA GROUP LLC", ASNHosting},
	{202425, "IP Volume inc", ASNHosting},
	{51852, "Private Layer INC", ASNHosting},
	// Hosting networks that mostly serve VPN exits.
	{9009, "M247 Europe SRL (hosts many commercial VPN exits)", ASNHosting},
	{60068, "Datacamp Limited (CDN77; hosts many VPN exits)", ASNHosting},
	{212238, "Datacamp Limited (CDN77; hosts many VPN exits)", ASNHosting},
	// VPN operators' own networks.
	{39351, "31173 Services AB (Mullvad VPN)", ASNVPN},
	{209854, "Cyberzone S.A. (Surfshark)", ASNVPN},
	{136787, "TEFINCOM S.A. (NordVPN)", ASNVPN},
	{207137, "PacketHub S.A. (NordVPN)", ASNVPN},
	{147049, "PacketHub S.A. (NordVPN)", ASNVPN},
}

// knownASNIndex finds an ASN's kind in one map read on the lookup path.
var knownASNIndex = func() map[uint32]ASNKind {
	m := make(map[uint32]ASNKind, len(knownASNs))
	for _, k := range knownASNs {
		m[k.ASN] = k.Kind
	}
	return m
}()

// KnownASNs returns the built-in hosting and VPN ASN list, sorted by ASN.
func KnownASNs() []KnownASN {
	out := slices.Clone(knownASNs)
	slices.SortFunc(out, func(a, b KnownASN) int { return cmp.Compare(a.ASN, b.ASN) })
	return out
}
