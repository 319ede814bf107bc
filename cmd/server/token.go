package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/questline/questline/auth"
)

func token(args []string, getenv func(string) string, out io.Writer) error {
	fs := command("token", "Usage: server token --sub u1 --tenant acme [--role manager] [--ttl 24h]\n"+
		"Mints a development JWT signed with QL_JWT_SECRET (generated into QL_DATA_DIR on the embedded default).\n", out)
	sub := fs.String("sub", "", "user id (JWT sub), required")
	tenant := fs.String("tenant", "", "tenant id (JWT tid), required")
	roles := fs.String("role", "player", "comma-separated roles: player, moderator, manager, admin")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	cfg, err := parseCommand(fs, args, getenv, out)
	if err != nil {
		return err
	}
	if *sub == "" || *tenant == "" {
		fs.Usage()
		return errors.New("token: --sub and --tenant are required")
	}
	if len(cfg.JWTSecret) == 0 {
		return errors.New("token: needs an HS256 secret (QL_JWT_SECRET); tokens for JWKS/PEM setups come from your identity provider")
	}
	var rs []auth.Role
	for _, r := range strings.Split(*roles, ",") {
		rs = append(rs, auth.Role(strings.TrimSpace(r)))
	}
	tok, err := auth.Mint(cfg.JWTSecret, *sub, *tenant, rs, *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(out, tok)
	return nil
}
