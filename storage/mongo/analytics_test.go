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
