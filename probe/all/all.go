// Package all imports every probe of the standard set, so that a program
// that imports it has them registered.
package all

import (
	_ "github.com/ajar-scan/ajar/probe/mysql"    // MySQL and MariaDB
	_ "github.com/ajar-scan/ajar/probe/postgres" // PostgreSQL
	_ "github.com/ajar-scan/ajar/probe/redis"    // Redis
)
