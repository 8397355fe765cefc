// Package device turns a raw User-Agent header into a sessionmanager.Device
// (type, browser, OS) for the session list and new-device detection. The
// heavy lifting is github.com/medama-io/go-useragent, a zero-allocation trie
// parser; this package maps its names to ours and fills a few gaps (Android
// tablets, smart TVs, bot names, OS versions).
package device
