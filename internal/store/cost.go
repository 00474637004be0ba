package store

// SetPasswordCost sets the bcrypt cost of password hashes made from now on. Tests and load
// harnesses that create many users use bcrypt.MinCost; production keeps the default.
func (s *Store) SetPasswordCost(cost int) { s.cost = cost }
