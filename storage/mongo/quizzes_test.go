package mongo_test

import (
	"testing"

	"github.com/questline/questline/storage/storagetest"
)

func TestQuizConformance(t *testing.T) {
	uri(t)
	storagetest.RunQuizzes(t, func(t *testing.T) storagetest.QuizStore { return openFresh(t) })
}
