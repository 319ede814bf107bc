package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/questline/questline/ugc"
	"github.com/questline/questline/ugc/text"
)

// benchTotal is how many approved reviews the UGC benchmarks seed into one
// tenant (UGC_BENCH_TOTAL, default 1,000,000); a tenth of them, at most
// 100,000, are about the one hot product whose feed is read.
func benchTotal(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("UGC_BENCH_TOTAL"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// vocabulary is the words the generated reviews are made of.
var vocabulary = func() []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, 5000)
	for i := range out {
		var sb strings.Builder
		for range 3 + r.IntN(6) {
			sb.WriteByte(byte('a' + r.IntN(26)))
		}
		out[i] = sb.String()
	}
	return out
}()

func randomText(r *rand.Rand) string {
	words := make([]string, 20+r.IntN(30))
	for i := range words {
		words[i] = vocabulary[r.IntN(len(vocabulary))]
	}
	return strings.Join(words, " ")
}

// seedReviews stores n approved reviews of tenant in batches of one write
// each, hot product first, and returns the texts of every 1000th.
func seedReviews(b *testing.B, s *Store, tenant string, n int) []string {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	hot := min(n/10, 100_000)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var sample []string
	const batch = 5000
	start := time.Now()
	for done := 0; done < n; done += batch {
		err := s.w.do(ctx, func(tx *wtx) error {
			for i := done; i < min(done+batch, n); i++ {
				body := randomText(r)
				if i%1000 == 0 {
					sample = append(sample, body)
				}
				norm := text.Normalize(body)
				product := "hot"
				if i >= hot {
					product = "p" + strconv.Itoa(i%10_000)
				}
				c := ugc.Content{Rating: 1 + r.IntN(5), Body: body}
				if r.IntN(4) == 0 {
					c.Media = []string{"https://img.example/" + strconv.Itoa(i) + ".jpg"}
				}
				sub := ugc.Submission{
					ID: uuid.Must(uuid.NewV7()).String(), Tenant: tenant, User: "u" + strconv.Itoa(i), Kind: ugc.Review,
					ProductID: product, Verified: r.IntN(3) == 0, Status: ugc.Approved, Content: c, Public: &c,
					CreatedAt: at, UpdatedAt: at, QueuedAt: at, TextHash: text.Hash(norm), Signature: text.Signature(norm), Version: 2,
				}
				row, err := ugcRow(sub)
				if err != nil {
					return err
				}
				args := append([]any{sub.Tenant, sub.ID, sub.User, string(sub.Kind), sub.ProductID, reviewKey(sub), at.UnixMilli(), r.IntN(50), 0}, row...)
				if _, err := tx.exec(s.ugc.insert, args...); err != nil {
					return err
				}
				if err := s.moveSummary(tx, tenant, product, 0, c.Rating); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if (done/batch)%40 == 0 {
			b.Logf("seeded %d of %d reviews (%s)", done, n, time.Since(start).Round(time.Second))
		}
	}
	return sample
}

// ugcBenchStore opens (seeding it once per process) a store holding
// benchTotal approved reviews.
func ugcBenchStore(b *testing.B) (*Store, []string) {
	b.Helper()
	n := benchTotal(b)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("ugc-bench-%d", n))
	path := filepath.Join(dir, "q.db")
	_, statErr := os.Stat(path)
	s, err := Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	r := rand.New(rand.NewPCG(3, 4))
	var sample []string
	if statErr == nil {
		for i := 0; i < n; i++ { // the same texts seedReviews drew
			body := randomText(r)
			if i%1000 == 0 {
				sample = append(sample, body)
			}
			r.IntN(5)
			r.IntN(4)
			r.IntN(3)
			r.IntN(50)
		}
		return s, sample
	}
	return s, seedReviews(b, s, "acme", n)
}

// p99 reports the 99th percentile of ds in milliseconds.
func p99(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkUGCFeed reads the first page (20) of the hot product's feed in
// every sort, with and without filters, and its summary, with
// UGC_BENCH_TOTAL approved reviews in the tenant (100,000 of them on the
// product at the default 1,000,000).
//
//	go test ./storage/sqlite -run '^$' -bench UGCFeed -benchtime 2000x -timeout 60m
func BenchmarkUGCFeed(b *testing.B) {
	s, _ := ugcBenchStore(b)
	ctx := context.Background()
	for _, q := range []struct {
		name string
		q    ugc.FeedQuery
	}{
		{"newest", ugc.FeedQuery{Sort: ugc.Newest}},
		{"helpful", ugc.FeedQuery{Sort: ugc.Helpful}},
		{"rating_high", ugc.FeedQuery{Sort: ugc.RatingHigh}},
		{"rating_low", ugc.FeedQuery{Sort: ugc.RatingLow}},
		{"rating=2", ugc.FeedQuery{Sort: ugc.Newest, Rating: 2}},
		{"verified", ugc.FeedQuery{Sort: ugc.Helpful, Verified: true}},
		{"with_photos", ugc.FeedQuery{Sort: ugc.RatingHigh, WithPhotos: true}},
	} {
		b.Run(q.name, func(b *testing.B) {
			q.q.Limit = 21
			ds := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				page, err := s.Feed(ctx, "acme", "hot", q.q)
				if err != nil || len(page) != 21 {
					b.Fatalf("%d reviews, %v", len(page), err)
				}
				ds = append(ds, time.Since(t0))
			}
			p99(b, ds)
		})
	}
	b.Run("summary", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			sum, err := s.Summary(ctx, "acme", "hot")
			if err != nil || sum.WithAverage().Count == 0 {
				b.Fatalf("%+v %v", sum, err)
			}
			ds = append(ds, time.Since(t0))
		}
		p99(b, ds)
	})
}

// BenchmarkUGCDuplicates runs the duplicate lookup of a new text (hash and
// eight bands) against UGC_BENCH_TOTAL stored texts: half the probes are
// near copies of stored texts (a word added), half new texts.
//
//	go test ./storage/sqlite -run '^$' -bench UGCDuplicates -benchtime 2000x -timeout 60m
func BenchmarkUGCDuplicates(b *testing.B) {
	s, sample := ugcBenchStore(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	ds := make([]time.Duration, 0, b.N)
	found, near := 0, 0
	i := 0
	for b.Loop() {
		body := randomText(r)
		if i%2 == 0 {
			body, near = sample[i/2%len(sample)]+" again", near+1
		}
		i++
		t0 := time.Now()
		n := text.Normalize(body)
		sig := text.Signature(n)
		cands, err := s.SimilarTexts(ctx, "acme", text.Hash(n), text.Bands(sig), "", 50)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cands {
			if text.Similarity(c.Signature, sig) >= 0.6 {
				found++
				break
			}
		}
		ds = append(ds, time.Since(t0))
	}
	p99(b, ds)
	b.ReportMetric(float64(found)/float64(max(near, 1)), "found/near")
}
