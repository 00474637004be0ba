package dynamics

import "github.com/ringside/ringside/internal/crm"

type crmMatch = crm.Match
