package main

import (
	_ "github.com/glebarez/sqlite"
	_ "github.com/gorilla/securecookie"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/labstack/echo/v4"
	_ "github.com/pressly/goose/v3"
	_ "golang.org/x/crypto/hkdf"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/sync/singleflight"
	_ "gorm.io/driver/postgres"
	_ "gorm.io/gorm"
)

func main() {}
