// Package redistest starts a real Redis Cluster (three masters, one replica
// each) and a real Sentinel setup on free loopback ports, from the
// redis-server and redis-cli binaries, for the tests of the packages that
// speak to Redis. One setup per test binary: Shared starts it on first use,
// StopShared (from TestMain) tears it down.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/magic-sessionmanager/sessionmanager/internal/testenv"
)

// nodeTimeout is the cluster's node timeout: a dead master is replaced
// about this long after it stops answering.
const nodeTimeout = 1000 * time.Millisecond

// waitLimit bounds every wait for the servers (a safety net, not a speed
// assertion).
const waitLimit = 60 * time.Second

// Node is one redis-server process.
type Node struct {
	Addr string
	port int
	args []string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	cmd := exec.Command("redis-server", n.args...)
	cmd.Dir = n.dir
	// A test binary that dies (a panic, a timeout) takes its servers along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd = cmd
	go func() { _ = cmd.Wait() }()
	return waitPing(n.Addr)
}

// Kill ends the process at once (SIGKILL): a crashed master.
func (n *Node) Kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		n.cmd = nil
	}
}

// Restart starts a killed node again with its old configuration (a cluster
// node rejoins with its nodes.conf, as a replica of whoever took over).
func (n *Node) Restart() error {
	n.Kill()
	return n.start()
}

// Client returns a plain client of this one node.
func (n *Node) Client() *redis.Client { return redis.NewClient(&redis.Options{Addr: n.Addr}) }

func waitPing(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(waitLimit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s does not answer: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback port free now whose cluster bus port
// (+10000) is free too.
func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 {
			continue
		}
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000)); err == nil {
			_ = l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port pair")
}

func newNode(dir string, extra ...string) (*Node, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &Node{port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir}
	n.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(dir, strconv.Itoa(port)+".log")}, extra...)
	return n, nil
}

// Cluster is a Redis Cluster of three masters with one replica each.
type Cluster struct {
	Nodes []*Node
	dir   string
}

// StartCluster starts six nodes in dir and joins them into a cluster.
func StartCluster(dir string) (*Cluster, error) {
	c := &Cluster{dir: dir}
	var addrs []string
	for range 6 {
		n, err := newNode(dir)
		if err != nil {
			c.Stop()
			return nil, err
		}
		n.args = append(n.args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+strconv.Itoa(n.port)+".conf",
			"--cluster-node-timeout", strconv.Itoa(int(nodeTimeout.Milliseconds())))
		if err := n.start(); err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	if err := c.WaitHealthy(context.Background()); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// URL is the cluster as REDIS_URL in the comma-separated seed form.
func (c *Cluster) URL() string {
	var seeds []string
	for _, n := range c.Nodes[:3] {
		seeds = append(seeds, "redis://"+n.Addr)
	}
	return strings.Join(seeds, ",")
}

// AddrURL is the cluster as REDIS_URL in go-redis's addr= form.
func (c *Cluster) AddrURL() string {
	return "redis://" + c.Nodes[0].Addr + "?addr=" + c.Nodes[1].Addr + "&addr=" + c.Nodes[2].Addr
}

// node returns the node listening on addr.
func (c *Cluster) node(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

// live returns a client of some node that answers.
func (c *Cluster) live(ctx context.Context) (*redis.Client, error) {
	for _, n := range c.Nodes {
		cl := n.Client()
		if cl.Ping(ctx).Err() == nil {
			return cl, nil
		}
		_ = cl.Close()
	}
	return nil, errors.New("no cluster node answers")
}

// MasterOf returns the node that serves slot now, and one of its replicas
// (nil when it has none), from CLUSTER NODES (CLUSTER SLOTS leaves out a
// replica that has replicated nothing yet).
func (c *Cluster) MasterOf(ctx context.Context, slot int) (master, replica *Node, err error) {
	cl, err := c.live(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	text, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, nil, err
	}
	type row struct{ id, addr, flags, masterID string }
	var rows []row
	masterID := ""
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		r := row{id: f[0], addr: addr, flags: f[2], masterID: f[3]}
		rows = append(rows, r)
		if strings.Contains(r.flags, "fail") || !strings.Contains(r.flags, "master") {
			continue
		}
		for _, rg := range f[8:] {
			if strings.HasPrefix(rg, "[") {
				continue
			}
			lo, hi, isRange := strings.Cut(rg, "-")
			if !isRange {
				hi = lo
			}
			l, _ := strconv.Atoi(lo)
			h, _ := strconv.Atoi(hi)
			if l <= slot && slot <= h {
				masterID, master = r.id, c.node(addr)
			}
		}
	}
	if master == nil {
		return nil, nil, fmt.Errorf("slot %d has no master", slot)
	}
	for _, r := range rows {
		if r.masterID == masterID && !strings.Contains(r.flags, "fail") {
			replica = c.node(r.addr)
		}
	}
	return master, replica, nil
}

// Slot returns the cluster slot of key (or channel).
func (c *Cluster) Slot(ctx context.Context, key string) (int, error) {
	cl, err := c.live(ctx)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n, err := cl.ClusterKeySlot(ctx, key).Result()
	return int(n), err
}

// WaitHealthy waits until every live node says the cluster is ok, every
// slot is served and every master has a connected replica.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(waitLimit)
	var why string
	for time.Now().Before(deadline) {
		why = c.unhealthy(ctx)
		if why == "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redis cluster not healthy: %s", why)
}

func (c *Cluster) unhealthy(ctx context.Context) string {
	masters := 0
	for _, n := range c.Nodes {
		cl := n.Client()
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			_ = cl.Close()
			return n.Addr + ": " + err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") {
			_ = cl.Close()
			return n.Addr + " says the cluster is not ok"
		}
		repl, err := cl.Info(ctx, "replication").Result()
		_ = cl.Close()
		if err != nil {
			return n.Addr + ": " + err.Error()
		}
		if strings.Contains(repl, "role:master") {
			masters++
			if !strings.Contains(repl, "connected_slaves:1") {
				return n.Addr + " is a master without a connected replica"
			}
		} else if !strings.Contains(repl, "master_link_status:up") {
			return n.Addr + " is a replica not in sync"
		}
	}
	if masters != 3 {
		return fmt.Sprintf("%d masters, want 3", masters)
	}
	return ""
}

// FailoverKill kills the master of slot (SIGKILL) and waits until its
// replica has taken over; then it restarts the dead node, which rejoins as
// a replica, and waits until the cluster is whole again. started is called
// just after the kill, so a test can act during the failover.
func (c *Cluster) FailoverKill(ctx context.Context, slot int, started func()) error {
	master, replica, err := c.MasterOf(ctx, slot)
	if err != nil {
		return err
	}
	if replica == nil {
		return fmt.Errorf("slot %d's master has no replica", slot)
	}
	master.Kill()
	if started != nil {
		started()
	}
	if err := c.waitMaster(ctx, slot, replica); err != nil {
		return err
	}
	if err := master.Restart(); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// FailoverManual runs CLUSTER FAILOVER on the replica of slot's master (a
// planned failover: the master hands over without losing writes) and waits
// until it is done and the cluster is whole.
func (c *Cluster) FailoverManual(ctx context.Context, slot int, started func()) error {
	_, replica, err := c.MasterOf(ctx, slot)
	if err != nil {
		return err
	}
	if replica == nil {
		return fmt.Errorf("slot %d's master has no replica", slot)
	}
	cl := replica.Client()
	defer cl.Close()
	if err := cl.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		return err
	}
	if started != nil {
		started()
	}
	if err := c.waitMaster(ctx, slot, replica); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// Failover fails the master of slot over: "kill" (FailoverKill) or
// "manual" (FailoverManual).
func (c *Cluster) Failover(ctx context.Context, kind string, slot int, started func()) error {
	if kind == "kill" {
		return c.FailoverKill(ctx, slot, started)
	}
	return c.FailoverManual(ctx, slot, started)
}

func (c *Cluster) waitMaster(ctx context.Context, slot int, want *Node) error {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if m, _, err := c.MasterOf(ctx, slot); err == nil && m == want {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not take over slot %d", want.Addr, slot)
}

// Sentinel is one master, one replica and three Sentinels watching them
// under the name "mymaster" (quorum 2).
type Sentinel struct {
	Master, Replica *Node
	Sentinels       []*Node
	dir             string
}

// MasterName is the name the Sentinels know the master by.
const MasterName = "mymaster"

// StartSentinel starts a master, a replica and three Sentinels in dir.
func StartSentinel(dir string) (*Sentinel, error) {
	s := &Sentinel{dir: dir}
	var err error
	if s.Master, err = newNode(dir); err != nil {
		return nil, err
	}
	if err := s.Master.start(); err != nil {
		return nil, err
	}
	if s.Replica, err = newNode(dir, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.port)); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.Replica.start(); err != nil {
		s.Stop()
		return nil, err
	}
	for i := range 3 {
		port, err := freePort()
		if err != nil {
			s.Stop()
			return nil, err
		}
		conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(i)+".conf")
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\nlogfile %s\nsentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 2000\nsentinel parallel-syncs %s 1\n",
			port, filepath.Join(dir, "sentinel-"+strconv.Itoa(i)+".log"), MasterName, s.Master.port, MasterName, MasterName, MasterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			s.Stop()
			return nil, err
		}
		n := &Node{port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, args: []string{conf, "--sentinel"}}
		if err := n.start(); err != nil {
			s.Stop()
			return nil, err
		}
		s.Sentinels = append(s.Sentinels, n)
	}
	if err := s.waitReady(context.Background()); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// URL is the setup as REDIS_URL in the redis-sentinel:// form.
func (s *Sentinel) URL() string {
	var hosts []string
	for _, n := range s.Sentinels {
		hosts = append(hosts, n.Addr)
	}
	return "redis-sentinel://" + strings.Join(hosts, ",") + "/" + MasterName
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	for _, n := range append([]*Node{s.Master, s.Replica}, s.Sentinels...) {
		if n != nil {
			n.Kill()
		}
	}
}

// MasterAddr asks a Sentinel where the master is now.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr})
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(a[0], a[1]), nil
}

// waitReady waits until every Sentinel sees the replica and the other
// Sentinels, so a failover can be agreed.
func (s *Sentinel) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range s.Sentinels {
			sc := redis.NewSentinelClient(&redis.Options{Addr: n.Addr})
			m, err := sc.Master(ctx, MasterName).Result()
			_ = sc.Close()
			if err != nil || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("sentinels did not discover the replica and each other")
}

// waitInSync waits until the master at addr has one replica online.
func waitInSync(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		repl, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(repl, "connected_slaves:1") && strings.Contains(repl, "state=online") {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the master %s has no replica in sync", addr)
}

// Failover makes the Sentinels promote the replica (SENTINEL FAILOVER) and
// waits until they report the new master and it accepts writes; started
// (nil: none) is called once the failover is under way.
func (s *Sentinel) Failover(ctx context.Context, started func()) (newMaster string, err error) {
	old, err := s.MasterAddr(ctx)
	if err != nil {
		return "", err
	}
	// A replica can be promoted once it is in sync and every Sentinel sees
	// it (after an earlier failover the old master has to catch up first).
	if err := s.waitReady(ctx); err != nil {
		return "", err
	}
	if err := waitInSync(ctx, old); err != nil {
		return "", err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0].Addr})
	defer sc.Close()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		return "", err
	}
	if started != nil {
		started()
	}
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if a, err := s.MasterAddr(ctx); err == nil && a != old {
			c := redis.NewClient(&redis.Options{Addr: a})
			repl, err := c.Info(ctx, "replication").Result()
			_ = c.Close()
			if err == nil && strings.Contains(repl, "role:master") {
				return a, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", errors.New("sentinel failover did not complete")
}

var (
	sharedMu       sync.Mutex
	sharedCluster  *Cluster
	sharedSentinel *Sentinel
	sharedDirs     []string
	sharedErr      = map[string]error{}
)

// available reports whether the binaries are there; without them the test
// is skipped, or fails where services are required (CI).
func available(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if testenv.Required() {
				t.Fatalf("%s is not installed, and services are required here", bin)
			}
			t.Skipf("%s is not installed: skipping the Redis Cluster and Sentinel tests", bin)
		}
	}
}

func tempDir(name string) (string, error) {
	d, err := os.MkdirTemp("", "sm-"+name+"-")
	if err == nil {
		sharedDirs = append(sharedDirs, d)
	}
	return d, err
}

// SharedCluster returns this test binary's Redis Cluster, started on first
// use. Tests that fail a master over leave it whole again (see
// FailoverKill); they must not run in parallel with each other.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	return startShared(t, "cluster", &sharedCluster, StartCluster)
}

// SharedSentinel returns this test binary's Sentinel setup, started on
// first use.
func SharedSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return startShared(t, "sentinel", &sharedSentinel, StartSentinel)
}

// startShared starts *setup with start in a temporary directory unless it
// is running (or failed to start) already.
func startShared[T any](t testing.TB, name string, setup **T, start func(dir string) (*T, error)) *T {
	t.Helper()
	available(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if *setup == nil && sharedErr[name] == nil {
		dir, err := tempDir(name)
		if err == nil {
			*setup, err = start(dir)
		}
		sharedErr[name] = err
	}
	if err := sharedErr[name]; err != nil {
		t.Fatalf("start Redis (%s): %v", name, err)
	}
	return *setup
}

// StopShared stops what SharedCluster and SharedSentinel started and
// removes their files; call it from TestMain after m.Run.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedCluster != nil {
		sharedCluster.Stop()
		sharedCluster = nil
	}
	if sharedSentinel != nil {
		sharedSentinel.Stop()
		sharedSentinel = nil
	}
	for _, d := range sharedDirs {
		_ = os.RemoveAll(d)
	}
	sharedDirs = nil
}
