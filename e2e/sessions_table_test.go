package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/magic-sessionmanager/sessionmanager/e2e/browsertest"
	"github.com/magic-sessionmanager/sessionmanager/geo/geotest"
	"github.com/magic-sessionmanager/sessionmanager/license"
)

func navigate(t *testing.T, ctx context.Context, url, ready string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// TestBrowserSessionsTable, on `sessionmanager demo`'s data: the security
// score is named, explained by a legend and by reason chips in every row
// that lost points; riskiest first sorts by score ascending; the IP/CIDR
// field filters (with the loading state while it runs); a country's name
// finds its sessions; the total count and the export of the current
// filter agree; flags are bundled SVG images next to country names; the
// detail link looks like a link. Then the pages' accessibility and
// screenshots (CheckPage).
func TestBrowserSessionsTable(t *testing.T) {
	s := startServer(t, "demo", nil)
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, "demo@localhost", "demo password")
	if err := browsertest.Until(ctx, `document.querySelectorAll('#sessions-table [data-session]').length > 5`, 30*time.Second); err != nil {
		t.Fatalf("no demo sessions: %v", err)
	}

	// Readable risk: the name and the legend, and a reason for every low score.
	if got := evalJS[string](t, ctx, `document.getElementById("score-legend").textContent`); !strings.Contains(got, "Security score (higher is safer)") {
		t.Errorf("legend: %q", got)
	}
	unexplained := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table tr[data-session]'))
		.filter(tr => { const sc = tr.querySelector('.score'); return sc && Number(sc.textContent) < 100 &&
			!tr.querySelector('.badge-reason, .badge-threat'); })
		.map(tr => tr.dataset.session + ' score ' + tr.querySelector('.score').textContent)`)
	if len(unexplained) > 0 {
		t.Errorf("rows that lost points without a reason shown in the row: %v", unexplained)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#sessions-table .badge-reason').length`); n == 0 {
		t.Error("no reason chip in the table")
	}

	// Flags: bundled SVGs, loaded, next to the country's name.
	flags := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table img.flag'))
		.filter(i => !(i.complete && i.naturalWidth > 0 && new URL(i.src).pathname.startsWith('/admin/static/flags/')))
		.map(i => i.src)`)
	if len(flags) > 0 {
		t.Errorf("flags not loaded from the bundle: %v", flags)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('#sessions-table img.flag').length`); n == 0 {
		t.Error("no flag image in the table")
	}
	// Every place with a code shows the country's name (the country select
	// gives the names: "Japan (JP)").
	nameless := evalJS[[]string](t, ctx, `(() => {
		const names = {};
		document.querySelectorAll('select[name=country] option[value]').forEach(o => { if (o.value) names[o.value] = o.textContent.replace(/ \([A-Z]{2}\)$/, ''); });
		return Array.from(document.querySelectorAll('#sessions-table .place')).filter(p => {
			const cc = p.querySelector('.cc'); return cc && !p.textContent.includes(names[cc.textContent]);
		}).map(p => p.textContent);
	})()`)
	if len(nameless) > 0 {
		t.Errorf("places without their country's name: %v", nameless)
	}
	// The detail link is drawn as a link (the accent colour), not as text.
	if same := evalJS[bool](t, ctx, `getComputedStyle(document.querySelector('#sessions-table .detail-link')).color ===
		getComputedStyle(document.querySelector('#sessions-table .cell-user a')).color`); !same {
		t.Error("the session detail link is not coloured as a link")
	}

	// Riskiest first.
	// Followed in one step in the page: a live refresh may swap the button
	// between chromedp finding it and clicking it ("Could not find node").
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-riskiest]`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-riskiest]').click()`),
		chromedp.WaitVisible(chromedp.CSS(`#sessions-table`))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `location.search.includes("sort=score") && location.search.includes("order=asc")`, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	scores := evalJS[[]int](t, ctx, `Array.from(document.querySelectorAll('#sessions-table tr[data-session] .score')).map(e => Number(e.textContent))`)
	if len(scores) == 0 || !slices.IsSorted(scores) {
		t.Errorf("riskiest first: scores %v are not ascending", scores)
	}

	// The IP / CIDR field: the first row's /24, typed in; the loading state
	// shows while the request runs (seen from htmx's beforeSend event).
	ip := evalJS[string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table .cell-net .mono')).map(e => e.textContent).find(t => /^\d+\.\d+\.\d+\.\d+$/.test(t)) || ""`)
	if ip == "" {
		t.Fatal("no IPv4 address in the demo table")
	}
	cidr := ip[:strings.LastIndex(ip, ".")] + ".0/24"
	evalJS[bool](t, ctx, `(window.__loading = [], document.body.addEventListener("htmx:beforeSend", e => {
		if (!e.detail.requestConfig.headers["X-SM-Background"]) window.__loading.push(getComputedStyle(document.getElementById("sessions-loading")).display);
	}), true)`)
	if idle := evalJS[string](t, ctx, `getComputedStyle(document.getElementById("sessions-loading")).display`); idle != "none" {
		t.Errorf("the loading state shows while nothing runs: %s", idle)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[name=ip]`), cidr)); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, fmt.Sprintf(`new URLSearchParams(location.search).get("ip") === %q`, cidr), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	prefix := ip[:strings.LastIndex(ip, ".")+1]
	if err := browsertest.Until(ctx, fmt.Sprintf(`document.querySelectorAll('#sessions-table tr[data-session]').length > 0 &&
		Array.from(document.querySelectorAll('#sessions-table .cell-net .mono')).every(e => e.textContent.startsWith(%q))`, prefix), 10*time.Second); err != nil {
		t.Errorf("the IP field did not filter: %v\n%s: %v", err, evalJS[string](t, ctx, `location.search`),
			evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table .cell-net .mono')).map(e => e.textContent)`))
	}
	if shown := evalJS[[]string](t, ctx, `window.__loading`); len(shown) == 0 || slices.Contains(shown, "none") {
		t.Errorf("no loading state while the filter ran: %v", shown)
	}
	// The total and the export of this filter agree.
	total := evalJS[int](t, ctx, `Number(document.querySelector('[data-total]').dataset.total)`)
	rows := evalJS[int](t, ctx, `document.querySelectorAll('#sessions-table tr[data-session]').length`)
	if total < rows || total == 0 {
		t.Errorf("total %d for %d rows", total, rows)
	}
	csv := evalJS[string](t, ctx, `fetch(document.querySelector('[data-export=csv]').href).then(r => r.status + " " + r.headers.get("content-type"))`)
	if !strings.HasPrefix(csv, "200 text/csv") {
		t.Fatalf("export: %q", csv)
	}
	lines := evalJS[[]string](t, ctx, `fetch(document.querySelector('[data-export=csv]').href).then(r => r.text()).then(t => t.trim().split("\n").slice(1))`)
	if len(lines) != total {
		t.Errorf("the export of the filter has %d rows, the page says %d", len(lines), total)
	}
	for _, l := range lines {
		if !strings.Contains(l, prefix) {
			t.Errorf("exported row outside the filter: %s", l)
		}
	}
	browsertest.CheckPage(t, ctx, "sessions-filtered")

	// A country's name in the search box finds the sessions there.
	navigate(t, ctx, s.base+"/admin/sessions?status=active,inactive,ended", "#sessions-table")
	cc := evalJS[string](t, ctx, `document.querySelector('#sessions-table .place .cc').textContent`)
	name := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('select[name=country] option[value=%q]').textContent.replace(/ \([A-Z]{2}\)$/, '')`, cc))
	navigate(t, ctx, s.base+"/admin/sessions?status=active,inactive,ended&q="+strings.ReplaceAll(name, " ", "+"), "#sessions-table")
	if n := evalJS[int](t, ctx, fmt.Sprintf(`Array.from(document.querySelectorAll('#sessions-table tr[data-session]')).filter(tr => (tr.querySelector('.cc') || {}).textContent === %q).length`, cc)); n == 0 {
		t.Errorf("searching %q found no session in %s", name, cc)
	}

	// The default page and a session's page, checked.
	navigate(t, ctx, s.base+"/admin/sessions", "#sessions-table")
	sid := evalJS[string](t, ctx, `document.querySelector('#sessions-table [data-session]').dataset.session`)
	browsertest.CheckPage(t, ctx, "sessions")
	navigate(t, ctx, s.base+"/admin/sessions/"+sid, "main")
	browsertest.CheckPage(t, ctx, "session")
}

// TestBrowserPhoneLayout at 390x844: session rows are cards with Terminate
// inside the screen; the top bar keeps its height on a short page; the
// current page is visible in the side-scrolling nav.
func TestBrowserPhoneLayout(t *testing.T) {
	s := startServer(t, "demo", nil)
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, "demo@localhost", "demo password")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	navigate(t, ctx, s.base+"/admin/sessions", "#sessions-table")
	if err := browsertest.Until(ctx, `document.querySelectorAll('#sessions-table [data-terminate]').length > 0`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	cards := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table tr[data-session]')).map(tr => getComputedStyle(tr).display)`)
	for _, d := range cards {
		if d != "flex" {
			t.Fatalf("session rows are not cards at 390 wide: display %v", cards)
		}
	}
	outside := evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#sessions-table [data-terminate]')).filter(b => {
		const r = b.getBoundingClientRect(); return r.width === 0 || r.left < 0 || r.right > window.innerWidth; }).map(b => b.dataset.terminate)`)
	if len(outside) > 0 {
		t.Errorf("Terminate out of reach in %d cards", len(outside))
	}
	if wide := evalJS[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth`); wide {
		t.Error("the sessions page scrolls sideways at 390 wide")
	}
	// A short page: the top bar stays a bar.
	navigate(t, ctx, s.base+"/admin/sessions?q=no-such-session-anywhere", "#sessions-table")
	if h := evalJS[float64](t, ctx, `document.querySelector('.side').getBoundingClientRect().height`); h > 160 {
		t.Errorf("the top bar is %.0f px high on a short page", h)
	}
	// The current page, last in the nav, is scrolled into its view.
	navigate(t, ctx, s.base+"/admin/data", "main")
	if !evalJS[bool](t, ctx, `(() => { const a = document.querySelector('.nav .nav-link.active'), n = a.parentElement.getBoundingClientRect(), r = a.getBoundingClientRect();
		return r.left >= n.left - 1 && r.right <= n.right + 1; })()`) {
		t.Error("the current page is not visible in the nav at 390 wide")
	}
}

// contrastJS lists every text pill, badge and banner whose text contrast
// against its effective background (the nearest opaque ancestor
// background) is below 4.5:1, computed from the browser's computed colours.
const contrastJS = `(() => {
	const rgb = s => { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
	const lin = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
	const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
	const bgOf = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; } 
		const bg = getComputedStyle(document.documentElement).getPropertyValue('--bg').trim().slice(1); // the page's own background (#rrggbb)
		return {r: parseInt(bg.slice(0, 2), 16), g: parseInt(bg.slice(2, 4), 16), b: parseInt(bg.slice(4, 6), 16), a: 1}; };
	const bad = [];
	document.querySelectorAll('.status, .badge, .score, .demo-banner, .warn-banner, .flash, .chip span, .tag, .picked-chip, .reason-weight, .seg span, .alert, .cc, .muted, .nav-link').forEach(el => {
		if (!el.textContent.trim() || !el.getClientRects().length) return;
		const cs = getComputedStyle(el);
		if (cs.visibility === 'hidden' || Number(cs.opacity) < 1) return;
		const fg = rgb(cs.color), bg = bgOf(el);
		const l1 = lum(fg), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		if (ratio < 4.5) bad.push(el.className + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2) + ':1 (' + cs.color + ' on ' + JSON.stringify(bg) + ')');
	});
	return bad;
})()`

// TestBrowserContrast: every text pill, badge and banner of the sessions,
// session and settings pages (demo data: every status, score class,
// threat badge and the demo banner) reaches WCAG AA 4.5:1 in the light and
// the dark scheme, from the computed colours.
func TestBrowserContrast(t *testing.T) {
	s := startServer(t, "demo", nil)
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, "demo@localhost", "demo password")
	if err := browsertest.Until(ctx, `document.querySelectorAll('#sessions-table [data-session]').length > 5`, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	sid := evalJS[string](t, ctx, `document.querySelector('#sessions-table [data-session]').dataset.session`)
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/admin/sessions?status=active,inactive,ended", "/admin/sessions/" + sid, "/admin/settings", "/admin/"} {
			navigate(t, ctx, s.base+p, "main")
			checked := evalJS[int](t, ctx, `document.querySelectorAll('.status, .badge, .score, .demo-banner').length`)
			if checked == 0 {
				t.Errorf("%s %s: no pill to check", scheme, p)
			}
			if bad := evalJS[[]string](t, ctx, contrastJS); len(bad) > 0 {
				t.Errorf("%s %s: text below 4.5:1:\n  %s", scheme, p, strings.Join(bad, "\n  "))
			}
		}
	}
}

// TestBrowserGeofenceChips: the picker finds countries by their common
// names (UK, Holland), the chosen ones are chips above the list, a chip's
// × removes it, the save message is in view, and the saved fence is what
// the API reports.
func TestBrowserGeofenceChips(t *testing.T) {
	city := geotest.WriteDB(t, t.TempDir(), "city.mmdb", "GeoIP2-City", 6, map[string]mmdbtype.Map{
		"81.2.69.0/24": geotest.CityRec("GB", "United Kingdom", "England", "London", 51.5142, -0.0931, "Europe/London"),
	})
	s := startServer(t, "serve", dashboardEnv(t, license.EditionAdvanced, map[string]string{"SM_GEOIP_DB": city}))
	ctx := browsertest.Chrome(t)
	browserSignIn(t, ctx, s.base, adminEmail, s.env["SM_ADMIN_PASSWORD"])
	navigate(t, ctx, s.base+"/admin/settings", "#picker-blocked")
	visible := func(code string) bool {
		return evalJS[bool](t, ctx, fmt.Sprintf(`!document.querySelector('#list-blocked input[value=%q]').closest('.picker-item').hidden`, code))
	}
	filter := func(text string) {
		t.Helper()
		evalJS[bool](t, ctx, `(document.querySelector('#picker-blocked .picker-filter').value = "", true)`)
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`#picker-blocked .picker-filter`), text)); err != nil {
			t.Fatal(err)
		}
	}
	filter("UK")
	if !visible("GB") || visible("DE") {
		t.Errorf("filter UK: GB shown %v, DE shown %v", visible("GB"), visible("DE"))
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#list-blocked input[value=GB]`))); err != nil {
		t.Fatal(err)
	}
	filter("holland")
	if !visible("NL") {
		t.Error("filter holland: the Netherlands hidden")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#list-blocked input[value=NL]`))); err != nil {
		t.Fatal(err)
	}
	chips := func() []string {
		return evalJS[[]string](t, ctx, `Array.from(document.querySelectorAll('#picked-blocked [data-code]')).map(c => c.dataset.code)`)
	}
	if got := chips(); !slices.Equal(got, []string{"GB", "NL"}) {
		t.Errorf("chips %v, want GB NL", got)
	}
	// The chip's × unchecks the country.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#picked-blocked [data-unpick=NL]`))); err != nil {
		t.Fatal(err)
	}
	if got := chips(); !slices.Equal(got, []string{"GB"}) {
		t.Errorf("after removing NL: chips %v", got)
	}
	if evalJS[bool](t, ctx, `document.querySelector('#list-blocked input[value=NL]').checked`) {
		t.Error("the removed chip's country is still checked")
	}
	browsertest.CheckPage(t, ctx, "settings-geofence-picking")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#geofence button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	if err := browsertest.Until(ctx, `document.getElementById("geofence-saved") !== null`, 10*time.Second); err != nil {
		t.Fatalf("no save message: %v", err)
	}
	if !evalJS[bool](t, ctx, `(() => { const r = document.getElementById("geofence-saved").getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; })()`) {
		t.Error("the geo-fence save message is not in view")
	}
	if got := chips(); !slices.Equal(got, []string{"GB"}) {
		t.Errorf("after save: chips %v", got)
	}
	data := s.settings(s.adminToken("read"))
	if got := fmt.Sprint(data["blockedCountries"]); got != "[GB]" {
		t.Errorf("blockedCountries %s, want [GB]", got)
	}
	browsertest.CheckPage(t, ctx, "settings")
}
