package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// WriteProblem writes a problem+json response outside huma (Fiber errors,
// middleware rejections).
func WriteProblem(c *fiber.Ctx, status int, code, detail string) error {
	body, _ := json.Marshal(problem(status, code, detail, nil))
	if status == http.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, RetryAfter)
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.Status(status).Send(body)
}

// ErrorHandler is Fiber's error handler: routing misses, oversized bodies
// and anything else Fiber itself rejects become problem+json too.
func ErrorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return WriteProblem(c, fe.Code, CodeForStatus(fe.Code), fe.Message)
		}
		logger.Error("request failed", "path", c.Path(), "request_id", c.Get(fiber.HeaderXRequestID), "err", err)
		return WriteProblem(c, http.StatusInternalServerError, "internal", "internal error")
	}
}

// RequestID gives every request an id (the caller's X-Request-Id when it is
// sane) and echoes it, so a client's report can be found in the logs.
func RequestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(fiber.HeaderXRequestID)
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n") {
			id = uuid.NewString()
			c.Request().Header.Set(fiber.HeaderXRequestID, id)
		}
		c.Set(fiber.HeaderXRequestID, id)
		return c.Next()
	}
}

// Metrics records request latency by route pattern (never the raw path, so
// ids do not explode the label set).
type Metrics struct {
	latency *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "questline_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route", "status"})}
	reg.MustRegister(m.latency)
	return m
}

// AccessLog logs each request once, as JSON through slog, and observes its
// latency. It must run before the handlers so it sees their final status.
func AccessLog(logger *slog.Logger, m *Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Let Fiber's error handler write the response now, so the
			// status logged is the one sent.
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(http.StatusInternalServerError)
			}
			err = nil
		}
		status := c.Response().StatusCode()
		elapsed := time.Since(start)
		// Fiber's strings point into buffers reused by the next request; the
		// metric keeps its labels, so they must be copies.
		method, route := strings.Clone(c.Method()), strings.Clone(c.Route().Path)
		m.latency.WithLabelValues(method, route, strconv.Itoa(status)).Observe(elapsed.Seconds())
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		}
		logger.Log(c.UserContext(), level, "request",
			"method", method, "route", route, "path", c.Path(), "status", status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "request_id", c.GetRespHeader(fiber.HeaderXRequestID))
		return err
	}
}
