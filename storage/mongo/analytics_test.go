package mongo_test

import (
	"testing"

	"github.com/questline/questline/analytics"
	"github.com/questline/questline/storage/storagetest"
)

func TestAnalyticsConformance(t *testing.T) {
	uri(t)
	storagetest.RunAnalytics(t, func(t *testing.T) analytics.Store { return openFresh(t) })
}

func TestAnalyticsEventScan(t *testing.T) {
	uri(t)
	storagetest.RunEventScan(t, func(t *testing.T) storagetest.ScanStore { return openFresh(t) })
}
