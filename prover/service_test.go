package prover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestService proves jobs through the service, concurrently, across the JSON wire form.
func TestService(t *testing.T) {
	p := roundTripParams()
	k := testKeys(t, p)
	s, err := New(Config{Keys: k, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	assignments := validAssignments(t, p, 3, 2)
	results := make([]*Result, len(assignments))
	var wg sync.WaitGroup
	for i, a := range assignments {
		job, err := NewJob(fmt.Sprintf("batch-%d", i), p, a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := EncodeJob(job)
		if err != nil {
			t.Fatal(err)
		}
		if job, err = DecodeJob(b); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Prove(ctx, job)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := EncodeResult(res)
			if err != nil {
				t.Error(err)
				return
			}
			if results[i], err = DecodeResult(b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res == nil {
			t.Fatalf("job %d: no result", i)
		}
		if err := Verify(k.VK, assignments[i].Commitment.Hash(), res.Proof); err != nil || res.ID != fmt.Sprintf("batch-%d", i) {
			t.Fatalf("job %d (%s): %v", i, res.ID, err)
		}
	}

	// A job whose commitment does not match its witness is refused before proving.
	job, _ := NewJob("mismatch", p, assignments[0])
	job.Commitment = assignments[1].Commitment
	if _, err := s.Prove(ctx, job); !errors.Is(err, ErrNotProvable) {
		t.Fatalf("mismatched job: %v", err)
	}
	// Jobs for other parameters are refused.
	job, _ = NewJob("other", p, assignments[0])
	job.Params.BatchSize++
	if _, err := s.Prove(ctx, job); !errors.Is(err, ErrNotProvable) {
		t.Fatalf("job for other parameters: %v", err)
	}
	// A cancelled context ends the wait.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	job, _ = NewJob("cancelled", p, assignments[0])
	if _, err := s.Prove(cancelled, job); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}

	s.Stop()
	s.Stop()
	if _, err := s.Prove(ctx, job); !errors.Is(err, ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
}
