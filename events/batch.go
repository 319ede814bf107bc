package events

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/questline/questline/auth"
	"github.com/questline/questline/internal/errs"
	"github.com/questline/questline/internal/httpx"
)

// Meter charges one event a player sends against their event rate limit
// (the bucket POST /v1/events draws on), so a batch costs what its events
// would cost one by one. ok is false when the event is over the limit;
// retry says when one more would fit.
type Meter func(ctx context.Context, p auth.Principal) (ok bool, retry time.Duration, err error)

// BatchItem is one event's answer in a batch: the status it would have had
// alone, and its result or its problem.
type BatchItem struct {
	Index   int              `json:"index" doc:"Position of the event in the request."`
	Status  int              `json:"status" doc:"200, or the status of problem."`
	Result  *Result          `json:"result,omitempty"`
	Problem *huma.ErrorModel `json:"problem,omitempty"`
}

type batchInput struct {
	Body struct {
		// Items are decoded one by one, so that one bad item cannot fail
		// the batch: the schema leaves them open.
		Events []json.RawMessage `json:"events" minItems:"1" maxItems:"500" nullable:"false" doc:"Each item is an event as POST /v1/events takes it (EventsInput), idempotency_key in the body."`
	}
}

type batchOutput struct {
	Body struct {
		Results []BatchItem `json:"results"`
	}
}

// registerBatch registers POST /v1/events/batch.
func registerBatch(api huma.API, s *Service, meter Meter) {
	auth.Register(api, huma.Operation{
		OperationID: "send-events-batch", Method: http.MethodPost, Path: "/v1/events/batch",
		Summary: "Send up to 500 events at once", Tags: []string{"events"},
		Description: "For POS and e-commerce back ends. Each event is what POST /v1/events takes, with its own " +
			"idempotency_key, and gets its own answer in results, in order: status 200 with its result, or the " +
			"problem it would have had alone. A bad event does not fail the others, and a retry of the batch with " +
			"the same keys replays what was done and pays nothing twice. Players may batch their own " +
			"client-allowed events; each event counts against their event rate limit, and events over it get 429.",
	}, auth.Senders, func(ctx context.Context, in *batchInput) (*batchOutput, error) {
		p, err := auth.Require(ctx)
		if err != nil {
			return nil, err
		}
		out := &batchOutput{}
		out.Body.Results = s.ingestBatch(ctx, p, in.Body.Events, meter)
		return out, nil
	})
}

// batchWorkers is how many users' events of one batch are ingested at
// once: a batch of many users costs a few round trips' time per user, not
// per event.
const batchWorkers = 16

// ingestBatch answers every item. It checks them in order first (the
// rate limit, decoding, Accept), then ingests the accepted ones, each
// user's in batch order (so what completes a challenge is the same as if
// they were sent one by one) and different users' side by side. Once a
// player's limit is spent, the rest are refused without asking the
// limiter again.
func (s *Service) ingestBatch(ctx context.Context, p auth.Principal, raw []json.RawMessage, meter Meter) []BatchItem {
	out := make([]BatchItem, len(raw))
	evs := make([]Event, len(raw))
	var (
		limited time.Duration
		order   []string
		byUser  = map[string][]int{}
	)
	cat, err := s.catalog(ctx, p.Tenant)
	for i, r := range raw {
		out[i].Index = i
		if err != nil {
			s.answer(&out[i], nil, err)
			continue
		}
		if !p.APIKey && meter != nil && limited == 0 {
			ok, retry, err := meter(ctx, p)
			if err != nil {
				s.logger.Warn("events: batch rate limit unavailable; allowing", "err", err)
			} else if !ok {
				limited = max(retry, time.Second)
			}
		}
		if limited > 0 {
			s.answer(&out[i], nil, errs.New(errs.RateLimited, "rate-limited",
				"event rate limit exceeded; retry in %d s", int(math.Ceil(limited.Seconds()))))
			continue
		}
		ev, err := s.acceptRaw(cat, p, r)
		if err != nil {
			s.answer(&out[i], nil, err)
			continue
		}
		evs[i] = ev
		if byUser[ev.User] == nil {
			order = append(order, ev.User)
		}
		byUser[ev.User] = append(byUser[ev.User], i)
	}
	users := make(chan []int)
	var wg sync.WaitGroup
	for range min(batchWorkers, len(order)) {
		wg.Go(func() {
			for idx := range users {
				for _, i := range idx {
					if ctx.Err() != nil {
						s.answer(&out[i], nil, errBatchTimeout)
						continue
					}
					r, err := s.Ingest(ctx, evs[i])
					s.answer(&out[i], &r, err)
				}
			}
		})
	}
	for _, u := range order {
		users <- byUser[u]
	}
	close(users)
	wg.Wait()
	return out
}

// errBatchTimeout answers the events a batch had no time left for; their
// keys make sending them again safe.
var errBatchTimeout = errs.New(errs.Unavailable, "batch-timeout",
	"the batch ran out of time before this event; send it again with the same idempotency key")

// acceptRaw decodes one item and accepts it as POST /v1/events would.
func (s *Service) acceptRaw(cat *Catalog, p auth.Principal, raw json.RawMessage) (Event, error) {
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		return Event{}, errs.New(errs.Invalid, "bad-event", "not an event: %v", err)
	}
	return AcceptIn(cat, p, in, "", s.now())
}

// answer fills it with res or err's problem; an error a client may not
// see is logged and answered as a bare 500.
func (s *Service) answer(it *BatchItem, res *Result, err error) {
	if err == nil {
		it.Status, it.Result = http.StatusOK, res
		return
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errBatchTimeout
	}
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		s.logger.Error("events: batch item failed", "index", it.Index, "err", err)
		e = errs.New(errs.Internal, "internal", "internal error")
	}
	pr := httpx.Problem(e)
	it.Status, it.Problem = pr.Status, pr
}
