package mongo_test

import (
	"testing"

	"github.com/questline/questline/storage/storagetest"
)

func TestRetentionConformance(t *testing.T) {
	uri(t)
	storagetest.RunRetention(t, func(t *testing.T) storagetest.RetentionStore { return openFresh(t) })
}
