// Package repotest holds tests of the repository as a whole: what is tracked
// in git, and that the README's promises match the code.
package repotest
