// Package measure runs a contender as a process and measures what it costs:
// the peak resident memory of its whole process tree (a JVM launcher, a
// Python driver and its JVM count together) and the CPU seconds the tree
// used, by sampling /proc while it runs and adding the rusage the kernel
// reports when it exits.
package measure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a running, measured process.
type Proc struct {
	cmd   *exec.Cmd
	Start time.Time

	mu      sync.Mutex
	peakRSS int64           // bytes, whole tree, highest sample
	cpu     map[int]float64 // pid -> last seen utime+stime seconds
	out     *bytes.Buffer   // stdout, for result lines
	done    chan struct{}
	waitErr error
	exited  time.Time
}

// Start starts name with args and env (added to the current environment),
// writing its stderr (and a copy of stdout) to logPath.
func Start(name string, args []string, env []string, logPath string) (*Proc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Proc{cmd: cmd, cpu: map[int]float64{}, out: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout = &syncWriter{mu: &p.mu, w: p.out, tee: log}
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one group: stop the tree at once
	p.Start = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go p.sample()
	go func() {
		p.waitErr = cmd.Wait()
		p.mu.Lock()
		p.exited = time.Now()
		p.mu.Unlock()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

type syncWriter struct {
	mu  *sync.Mutex
	w   *bytes.Buffer
	tee *os.File
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	s.w.Write(b)
	s.mu.Unlock()
	return s.tee.Write(b)
}

// Stdout returns what the process has written to stdout so far.
func (p *Proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid is the leader's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, once Done is closed.
func (p *Proc) Err() error { return p.waitErr }

// Exited is when the process exited, once Done is closed.
func (p *Proc) Exited() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Stop sends SIGTERM to the process group, waits up to grace, then kills it.
func (p *Proc) Stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Descendants that outlived the leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// Wait waits for the process to exit or ctx to end.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Usage is what a finished process cost.
type Usage struct {
	PeakRSS    int64   // bytes
	CPUSeconds float64 // user + system, whole tree
}

// Usage returns the cost, once Done is closed.
func (p *Proc) Usage() Usage {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sampled float64
	for _, s := range p.cpu {
		sampled += s
	}
	u := Usage{PeakRSS: p.peakRSS, CPUSeconds: sampled}
	if st := p.cmd.ProcessState; st != nil {
		// The leader and every descendant it waited for.
		if cpu := st.UserTime().Seconds() + st.SystemTime().Seconds(); cpu > u.CPUSeconds {
			u.CPUSeconds = cpu
		}
		if ru, ok := st.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > u.PeakRSS {
			u.PeakRSS = ru.Maxrss * 1024
		}
	}
	return u
}

var clockTick = 100.0 // USER_HZ; 100 on every Linux this runs on

func (p *Proc) sample() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	root := p.cmd.Process.Pid
	for {
		tree := Tree(root)
		var rss int64
		cpu := map[int]float64{}
		for _, pid := range tree {
			s, err := readStat(pid)
			if err != nil {
				continue
			}
			rss += s.rss
			cpu[pid] = s.cpu
		}
		p.mu.Lock()
		p.peakRSS = max(p.peakRSS, rss)
		for pid, c := range cpu {
			p.cpu[pid] = c
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
}

type stat struct {
	ppid int
	cpu  float64 // utime + stime, seconds
	rss  int64   // bytes
}

var pageSize = int64(os.Getpagesize())

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 22 {
		return stat{}, errors.New("short stat")
	}
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return stat{ppid: ppid, cpu: (ut + st) / clockTick, rss: rss * pageSize}, nil
}

// Tree returns root and all its live descendants.
func Tree(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		s, err := readStat(pid)
		if err != nil {
			continue
		}
		children[s.ppid] = append(children[s.ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
