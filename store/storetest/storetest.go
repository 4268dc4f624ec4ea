// Package storetest is the conformance suite of store.Store: every
// implementation runs Run against fresh, empty stores of its own, and the
// benchmarks for the paths that must stay fast at scale. The suite speaks
// only the interface, so it holds an implementation to what callers rely on:
// CRUD of every record, error kinds, port claims under concurrency, epoch
// compare-and-set, operation leases, large listings, the change feed,
// backups, metrics, the coordinator lease with its fencing, the
// observers' reports, and the dashboard's sessions (expiry, cap, a flash
// taken once).
package storetest

import (
	"testing"

	"larder/store"
)

// Opener returns a new, empty store, closed when tb ends.
type Opener func(tb testing.TB) store.Store

// tests are the conformance tests, each on a store of its own.
var tests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"AppsDuplicateIsConflict", testAppsDuplicateIsConflict},
	{"AppsEnsureAndDelete", testAppsEnsureAndDelete},
	{"UserVarsSetUnset", testUserVarsSetUnset},
	{"AddonsCRUD", testAddonsCRUD},
	{"HandOverAddonIsCompareAndSet", testHandOverAddonIsCompareAndSet},
	{"DeleteAddonCascadesAttachmentsAndNodes", testDeleteAddonCascadesAttachmentsAndNodes},
	{"AttachmentsCRUD", testAttachmentsCRUD},
	{"InTxRollsBackOnError", testInTxRollsBackOnError},
	{"NodesCRUD", testNodesCRUD},
	{"NodesPortIsClaimedOnce", testNodesPortIsClaimedOnce},
	{"NodesClaimAndMoveSkipTakenPorts", testNodesClaimAndMoveSkipTakenPorts},
	{"NodesConcurrentPortClaims", testNodesConcurrentPortClaims},
	{"NodeAt", testNodeAt},
	{"HostsCRUD", testHostsCRUD},
	{"AdvanceEpochIsCompareAndSet", testAdvanceEpochIsCompareAndSet},
	{"SetNodeRoleNeedsANewerEpoch", testSetNodeRoleNeedsANewerEpoch},
	{"OperationsAndEvents", testOperationsAndEvents},
	{"OperationLeases", testOperationLeases},
	{"OperationLeasesOneWinner", testOperationLeasesOneWinner},
	{"OperationWritesOfItsOwner", testOperationWritesOfItsOwner},
	{"ForkPasswordGoesWhenDone", testForkPasswordGoesWhenDone},
	{"FollowSetReplaceDelete", testFollowSetReplaceDelete},
	{"OSBInstanceCreateTwiceIsConflict", testOSBInstanceCreateTwiceIsConflict},
	{"OSBBindingsUsersAndDeletion", testOSBBindingsUsersAndDeletion},
	{"OSBDeletedThenForgotten", testOSBDeletedThenForgotten},
	{"ListManyAddons", testListManyAddons},
	{"AttachmentsOfAddons", testAttachmentsOfAddons},
	{"ChangesFollowAnApp", testChangesFollowAnApp},
	{"ChangesOnlyWhatCommitted", testChangesOnlyWhatCommitted},
	{"ChangesCursorRules", testChangesCursorRules},
	{"ChangesOfADeletedAddon", testChangesOfADeletedAddon},
	{"ChangesCoverListings", testChangesCoverListings},
	{"BackupsNumberedAndKept", testBackupsNumberedAndKept},
	{"BackupSchedules", testBackupSchedules},
	{"ChangesShowBackups", testChangesShowBackups},
	{"RestoreSource", testRestoreSource},
	{"ChangesOfEveryone", testChangesOfEveryone},
	{"EdgePortsClaimedOnce", testEdgePortsClaimedOnce},
	{"EdgeConcurrentPortClaims", testEdgeConcurrentPortClaims},
	{"EdgeAccess", testEdgeAccess},
	{"MetricPointsAddUp", testMetricPointsAddUp},
	{"MetricPointsPrune", testMetricPointsPrune},
	{"CoordinatorLease", testCoordinatorLease},
	{"CoordinatorLeaseOneWinner", testCoordinatorLeaseOneWinner},
	{"LeaseFencesWrites", testLeaseFencesWrites},
	{"BrokersRegistry", testBrokersRegistry},
	{"ReportsInOrder", testReportsInOrder},
	{"ReportsRefused", testReportsRefused},
	{"ReportsPrune", testReportsPrune},
	{"SessionsCreateGetEnd", testSessionsCreateGetEnd},
	{"SessionsExpire", testSessionsExpire},
	{"SessionsCap", testSessionsCap},
	{"SessionsFlashOnce", testSessionsFlashOnce},
}

// Run runs the conformance suite, one subtest per behaviour, each on a
// store open returns.
func Run(t *testing.T, open Opener) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}
