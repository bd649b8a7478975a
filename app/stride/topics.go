package stride

// Thinkific's webhook topics (resource.action) that Stride registers, applies or builds.
// Thinkific sends others too; events.KnownTopic knows them all.
const (
	TopicEnrollmentCreated   = "enrollment.created"
	TopicEnrollmentProgress  = "enrollment.progress"
	TopicEnrollmentCompleted = "enrollment.completed"
	TopicEnrollmentTrial     = "enrollment.trial"
	TopicLessonCompleted     = "lesson.completed"
	TopicAppUninstalled      = "app.uninstalled"
	TopicCourseCreated       = "course.created"
	TopicCourseUpdated       = "course.updated"
	TopicCourseDeleted       = "course.deleted"
)
