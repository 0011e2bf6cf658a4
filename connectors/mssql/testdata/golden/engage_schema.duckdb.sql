CREATE SCHEMA IF NOT EXISTS "nice_interactions"."dbo";

CREATE SCHEMA IF NOT EXISTS "nice_storage_center"."dbo";

CREATE SCHEMA IF NOT EXISTS "nice_admin"."dbo";

CREATE TABLE "nice_interactions"."dbo"."tblInteractionCatalog" (
  vcSetNumber VARCHAR NULL,
  dtMinStartTime TIMESTAMP NULL,
  dtMaxStartTime TIMESTAMP NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblInteraction1" (
  iInteractionID BIGINT NULL,
  iCompoundID BIGINT NULL,
  dtInteractionGMTStartTime TIMESTAMP NULL,
  dtInteractionGMTStopTime TIMESTAMP NULL,
  dtInteractionLocalStartTime TIMESTAMP NULL,
  biInteractionDuration BIGINT NULL,
  iSwitchID INT NULL,
  tiInteractionTypeID UTINYINT NULL,
  tiCallDirectionTypeID UTINYINT NULL,
  nvcDialedNumber VARCHAR NULL,
  iSetNumber INT NULL,
  nvcBusinessData VARCHAR NULL,
  iTenantID INT NULL,
  tiInteractionStatusID UTINYINT NULL,
  nvcSkillName VARCHAR NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblParticipant1" (
  iParticipantID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iUserID INT NULL,
  nvcAgentId VARCHAR NULL,
  nvcStation VARCHAR NULL,
  nvcPhoneNumber VARCHAR NULL,
  tiParticipantTypeID UTINYINT NULL,
  bitIsInteractionInitiator BOOLEAN NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblCallInteraction1" (
  iCompoundID BIGINT NULL,
  iInteractionID BIGINT NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblInteraction2" (
  iInteractionID BIGINT NULL,
  iCompoundID BIGINT NULL,
  dtInteractionGMTStartTime TIMESTAMP NULL,
  dtInteractionGMTStopTime TIMESTAMP NULL,
  dtInteractionLocalStartTime TIMESTAMP NULL,
  biInteractionDuration BIGINT NULL,
  iSwitchID INT NULL,
  tiInteractionTypeID UTINYINT NULL,
  tiCallDirectionTypeID UTINYINT NULL,
  nvcDialedNumber VARCHAR NULL,
  iSetNumber INT NULL,
  nvcBusinessData VARCHAR NULL,
  iTenantID INT NULL,
  tiInteractionStatusID UTINYINT NULL,
  nvcSkillName VARCHAR NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblParticipant2" (
  iParticipantID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iUserID INT NULL,
  nvcAgentId VARCHAR NULL,
  nvcStation VARCHAR NULL,
  nvcPhoneNumber VARCHAR NULL,
  tiParticipantTypeID UTINYINT NULL,
  bitIsInteractionInitiator BOOLEAN NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblCallInteraction2" (
  iCompoundID BIGINT NULL,
  iInteractionID BIGINT NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblInteraction3" (
  iInteractionID BIGINT NULL,
  iCompoundID BIGINT NULL,
  dtInteractionGMTStartTime TIMESTAMP NULL,
  dtInteractionGMTStopTime TIMESTAMP NULL,
  dtInteractionLocalStartTime TIMESTAMP NULL,
  biInteractionDuration BIGINT NULL,
  iSwitchID INT NULL,
  tiInteractionTypeID UTINYINT NULL,
  tiCallDirectionTypeID UTINYINT NULL,
  nvcDialedNumber VARCHAR NULL,
  iSetNumber INT NULL,
  nvcBusinessData VARCHAR NULL,
  iTenantID INT NULL,
  tiInteractionStatusID UTINYINT NULL,
  nvcSkillName VARCHAR NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblParticipant3" (
  iParticipantID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iUserID INT NULL,
  nvcAgentId VARCHAR NULL,
  nvcStation VARCHAR NULL,
  nvcPhoneNumber VARCHAR NULL,
  tiParticipantTypeID UTINYINT NULL,
  bitIsInteractionInitiator BOOLEAN NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblCallInteraction3" (
  iCompoundID BIGINT NULL,
  iInteractionID BIGINT NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblInteractionException" (
  iExceptionID BIGINT NULL,
  iInteractionID BIGINT NULL,
  iExceptionTypeID INT NULL,
  iExceptionNumber INT NULL,
  dtExceptionTimeStamp TIMESTAMP NULL,
  vcExceptionDetail VARCHAR NULL
);

CREATE TABLE "nice_interactions"."dbo"."tblBusinessData" (
  iInteractionID BIGINT NULL,
  nvcFieldName VARCHAR NULL,
  nvcFieldValue VARCHAR NULL
);

CREATE TABLE "nice_storage_center"."dbo"."tblStorageCenter01" (
  iRecordingID BIGINT NULL,
  iInteractionID BIGINT NULL,
  dtRecordingGMTStartTime TIMESTAMP NULL,
  dtRecordingGMTStopTime TIMESTAMP NULL,
  tiRecordingRecordedTypeID UTINYINT NULL,
  vcArchivePath VARCHAR NULL,
  siUnitID SMALLINT NULL
);

CREATE TABLE "nice_storage_center"."dbo"."tblStorageCenter02" (
  iRecordingID BIGINT NULL,
  iInteractionID BIGINT NULL,
  dtRecordingGMTStartTime TIMESTAMP NULL,
  dtRecordingGMTStopTime TIMESTAMP NULL,
  tiRecordingRecordedTypeID UTINYINT NULL,
  vcArchivePath VARCHAR NULL,
  siUnitID SMALLINT NULL
);

CREATE TABLE "nice_admin"."dbo"."tblScSamUnit" (
  siUnitID SMALLINT NULL,
  nvcUnitPath VARCHAR NULL
);

CREATE TABLE "nice_admin"."dbo"."tblUser" (
  iUserID INT NULL,
  nvcFirstName VARCHAR NULL,
  nvcLastName VARCHAR NULL,
  vcEmailAddress VARCHAR NULL,
  nvcLoginName VARCHAR NULL,
  bitActive BOOLEAN NULL,
  iTenantID INT NULL,
  dtCreatedGMT TIMESTAMP NULL
);

CREATE TABLE "nice_admin"."dbo"."tblAgent" (
  iAgentId INT NULL,
  iUserID INT NULL,
  nvcSwitchAgentId VARCHAR NULL,
  nvcExtension VARCHAR NULL
);

CREATE INDEX "ix_tblInteractionCatalog" ON "nice_interactions"."dbo"."tblInteractionCatalog" (vcSetNumber);

CREATE INDEX "ix_tblInteraction1" ON "nice_interactions"."dbo"."tblInteraction1" (dtInteractionGMTStartTime, iInteractionID);

CREATE INDEX "ix_tblParticipant1" ON "nice_interactions"."dbo"."tblParticipant1" (iInteractionID, iParticipantID);

CREATE INDEX "ix_tblCallInteraction1" ON "nice_interactions"."dbo"."tblCallInteraction1" (iCompoundID);

CREATE INDEX "ix_tblInteraction2" ON "nice_interactions"."dbo"."tblInteraction2" (dtInteractionGMTStartTime, iInteractionID);

CREATE INDEX "ix_tblParticipant2" ON "nice_interactions"."dbo"."tblParticipant2" (iInteractionID, iParticipantID);

CREATE INDEX "ix_tblCallInteraction2" ON "nice_interactions"."dbo"."tblCallInteraction2" (iCompoundID);

CREATE INDEX "ix_tblInteraction3" ON "nice_interactions"."dbo"."tblInteraction3" (dtInteractionGMTStartTime, iInteractionID);

CREATE INDEX "ix_tblParticipant3" ON "nice_interactions"."dbo"."tblParticipant3" (iInteractionID, iParticipantID);

CREATE INDEX "ix_tblCallInteraction3" ON "nice_interactions"."dbo"."tblCallInteraction3" (iCompoundID);

CREATE INDEX "ix_tblInteractionException" ON "nice_interactions"."dbo"."tblInteractionException" (iInteractionID, iExceptionID);

CREATE INDEX "ix_tblBusinessData" ON "nice_interactions"."dbo"."tblBusinessData" (iInteractionID);

CREATE INDEX "ix_tblStorageCenter01" ON "nice_storage_center"."dbo"."tblStorageCenter01" (iInteractionID, dtRecordingGMTStartTime);

CREATE INDEX "ix_tblStorageCenter02" ON "nice_storage_center"."dbo"."tblStorageCenter02" (iInteractionID, dtRecordingGMTStartTime);

CREATE INDEX "ix_tblScSamUnit" ON "nice_admin"."dbo"."tblScSamUnit" (siUnitID);

CREATE INDEX "ix_tblUser" ON "nice_admin"."dbo"."tblUser" (iUserID);

CREATE INDEX "ix_tblAgent" ON "nice_admin"."dbo"."tblAgent" (iUserID);
