# Build a static binary, then ship it alone on a minimal non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc.org/sqlite is pure Go, so CGO stays off and the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/questline ./cmd/server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/questline /questline
# The embedded default keeps its SQLite file here; mount a volume to keep it.
WORKDIR /home/nonroot
ENV QL_ADDR=:8080 QL_DATA_DIR=/home/nonroot/data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/questline"]
CMD ["serve"]
