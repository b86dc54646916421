package bucket

// SetLevelsPage sets the page of the preflight's listing of the levels
// until the returned function restores it.
func SetLevelsPage(n int) (restore func()) {
	old := levelsPage
	levelsPage = n
	return func() { levelsPage = old }
}
