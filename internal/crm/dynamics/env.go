package dynamics

import "os"

func getenvDefault(k string) string { return os.Getenv(k) }
